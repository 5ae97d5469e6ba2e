// `vigil train`: resolve the config → prepare the data → build → fit (checkpointed) → calibrate →
// save the model → evaluate on the test split.
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as torch from '../torch/index.js';
import type { Detector, FitContext, TrainingState } from '../methods/types.js';
import { AugmentPool } from './augment.js';
import { calibrate } from './calibrate.js';
import { configToYaml, modelSchemaOf, parseSavedConfig, parseSet, readYamlFile, resolveConfig, type VigilConfig } from './config.js';
import { applicableConfig, rejectUnusedKeys, resizeUsed } from './applicable.js';
import { parseDataSpec, prepareData, type PreparedData } from './data.js';
import { InterruptedError, UserError } from './errors.js';
import { writeAtomic } from './fsutil.js';
import { getMethod, type AnyMethod } from './registry.js';
import { defaultRunDir, holdsRun, manifestPath, readCheckpoint, readCheckpointMeta, RunLog, writeCheckpoint, writeModel } from './run-dir.js';
import { checkDevice, applyThreads } from './runtime.js';
import { trainData } from './score.js';
import { evaluateSplit } from './test.js';
import type { ModelManifest, RunHooks, RunMetrics } from './types.js';
import { MODEL_FORMAT, VIGIL_VERSION } from './version.js';

export interface TrainOptions extends RunHooks {
  /** Method name; optional when resuming or when the config file names one. */
  method?: string;
  /** Data spec, e.g. 'synth:./synth', 'fmnist:0'. */
  data?: string;
  /** A YAML config file layered over the preset. */
  config?: string;
  /** Overrides 'a.b=value' (value parsed as YAML). */
  set?: readonly string[];
  /** Run directory (default runs/<method>-<dataset>-<time>). */
  out?: string;
  dataRoot?: string;
  seed?: number;
  /** 'cpu' (default), 'cuda', 'cuda:<n>'. */
  device?: string;
  /** Continue the interrupted run in this directory from its last checkpoint. */
  resume?: string;
}

export interface TrainResult {
  runDir: string;
  metrics: RunMetrics | null;
  manifest: ModelManifest;
}

/** The config of a new run (layers + flags), or the saved one of a run to resume. */
async function runConfig(o: TrainOptions): Promise<{ config: VigilConfig; method: AnyMethod; runDir: string; warnings: string[] }> {
  if (o.resume) {
    const runDir = resolve(o.resume);
    const cfgPath = join(runDir, 'config.yaml');
    if (!existsSync(cfgPath)) throw new UserError(`--resume ${o.resume}: ${cfgPath} not found; is this a vigil run directory?`, { code: 'RUN_NOT_FOUND' });
    if (existsSync(manifestPath(runDir))) throw new UserError(`--resume ${o.resume}: this run already finished (model/manifest.json exists); start a new run instead`, { code: 'RUN_FINISHED' });
    const raw = readYamlFile(cfgPath, 'run config');
    if (typeof raw.method !== 'string') throw new UserError(`${cfgPath}: 'method' is missing`, { code: 'RUN_INVALID' });
    const method = await getMethod(raw.method);
    const config = parseSavedConfig(raw, modelSchemaOf(method), cfgPath);
    if (o.method && o.method !== config.method) throw new UserError(`--resume: the run was trained with method '${config.method}', not '${o.method}'`);
    return { config, method, runDir, warnings: [] };
  }
  const fileLayer = o.config ? readYamlFile(o.config, 'config file') : undefined;
  const setMethod = (o.set ?? []).map(parseSet).map((s) => s.method).filter((m) => m !== undefined).pop();
  const name = o.method ?? (setMethod as string | undefined) ?? (fileLayer?.method as string | undefined);
  if (!name) throw new UserError('no method: pass --method <name> (see vigil methods)');
  const method = await getMethod(name);
  const flags: Record<string, unknown> = {};
  if (o.seed !== undefined) flags.seed = o.seed;
  if (o.device !== undefined) flags.device = o.device;
  if (o.dataRoot !== undefined) flags.dataset = { root: resolve(o.dataRoot) };
  if (o.out !== undefined) flags.output = { dir: o.out };
  const { config, warnings } = resolveConfig({ method: name, modelSchema: modelSchemaOf(method), ...(o.data ? { data: o.data } : {}), ...(o.config ? { configFile: o.config } : {}), ...(fileLayer ? { fileLayer } : {}), ...(o.set ? { set: o.set } : {}), flags });
  parseDataSpec(config.dataset.spec, config.dataset.category); // fail before creating the run directory
  rejectUnusedKeys(config, method.inputs?.(config.model) ?? {}, [fileLayer, ...(o.set ?? []).map(parseSet)]);
  const runDir = config.output.dir ? resolve(config.output.dir) : defaultRunDir(name, config.dataset.spec);
  if (holdsRun(runDir)) throw new UserError(`run directory ${runDir} already holds a run; choose another --out (or --resume it if it was interrupted)`, { code: 'RUN_EXISTS' });
  config.output.dir = runDir;
  return { config, method, runDir, warnings };
}

function fitContext(config: VigilConfig, runDir: string, log: (m: string) => void, o: TrainOptions, resume: TrainingState | null): FitContext {
  const lastLogged = new Map<string, number>();
  return {
    seed: config.seed,
    log,
    progress: (stage, done, total, values) => {
      o.onProgress?.({ stage, done, total, ...(values ? { values } : {}) });
      const last = lastLogged.get(stage) ?? 0;
      if (done === total || Date.now() - last > 10_000) {
        lastLogged.set(stage, Date.now());
        log(`${stage} ${done}/${total}${values ? ' ' + Object.entries(values).map(([k, v]) => `${k}=${Number(v).toPrecision(5)}`).join(' ') : ''}`);
      }
    },
    ...(config.train.checkpoint ? {
      checkpoint: (state: TrainingState) => {
        writeCheckpoint(runDir, config.method, state);
        log(`checkpoint: stage ${state.meta.stage}, epoch ${state.meta.epoch}`);
      },
    } : {}),
    ...(resume ? { resume } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  };
}

export async function train(o: TrainOptions): Promise<TrainResult> {
  const { config, method, runDir, warnings } = await runConfig(o);
  const threads = applyThreads(o.threads);
  const device = checkDevice(config.device);
  if (!o.resume) {
    mkdirSync(runDir, { recursive: true });
    writeAtomic(join(runDir, 'config.yaml'), configToYaml(applicableConfig(config, resizeUsed(config, method.inputs?.(config.model) ?? {}))));
  }
  const { log } = new RunLog(join(runDir, 'log.txt'), o.onLog);
  log(`vigil ${VIGIL_VERSION} ${o.resume ? 'resume' : 'train'}: method ${config.method}, data ${config.dataset.spec}, seed ${config.seed}, ${threads} thread${threads === 1 ? '' : 's'}, device ${device}, run ${runDir}`);
  for (const w of warnings) log(`warning: ${w}`);
  const resume = o.resume ? readCheckpoint(runDir) : null;
  if (resume) log(`resuming from checkpoint: stage ${resume.meta.stage}, epoch ${resume.meta.epoch}`);
  else if (o.resume) log('no checkpoint was written before the interruption: training starts over');

  torch.manualSeed(config.seed);
  const inputs = method.inputs?.(config.model) ?? {};
  let data: PreparedData | null = null;
  let det: Detector | null = null;
  let augment: AugmentPool | null = null;
  try {
    data = await prepareData(config, inputs, { onLog: log, threads });
    det = method.create(config.model, data.imageShape, { device });
    if (inputs.trainAugment) {
      augment = new AugmentPool(inputs.trainAugment, config.train.workers ?? Math.max(1, Math.min(4, threads - 1)));
      log(`augment: ${inputs.trainAugment.export} from ${inputs.trainAugment.module.replace(/^.*\//, '')} in ${augment.size} worker thread${augment.size === 1 ? '' : 's'}`);
    }
    const t0 = performance.now();
    await det.fit(trainData(data.train, data.imageShape, { device, seed: config.seed, ...(augment ? { augment } : {}) }), fitContext(config, runDir, log, o, resume));
    await augment?.close();
    augment = null;
    const fitS = (performance.now() - t0) / 1000;
    log(`fit: ${fitS.toFixed(2)} s`);

    const calibration = await calibrate(det, data, config, o, log, device);
    const manifest = writeModel(runDir, det, {
      format: MODEL_FORMAT,
      method: config.method,
      vigil_version: VIGIL_VERSION,
      created: new Date().toISOString(),
      dataset: data.name,
      seed: config.seed,
      config: config.model,
      preprocessing: data.preprocessing,
      imageShape: data.imageShape,
      ...calibration,
      ...(data.sourceSize ? { sourceSize: data.sourceSize } : {}),
    });

    let metrics: RunMetrics | null = null;
    if (data.test && data.test.size > 0) {
      metrics = await evaluateSplit({
        det, manifest, config, split: data.test, outDir: runDir, dataset: data.name, fitS, log, hooks: o, threads, device,
        counts: { train: data.train.size, held_out_normal: data.calib?.size ?? 0, validation: data.val?.size ?? 0 },
      });
    } else {
      log('no test split: metrics.json and report.html are not written');
    }
    log('done');
    return { runDir, metrics, manifest };
  } catch (e) {
    if (!(e instanceof InterruptedError)) log(`error: ${(e as Error).message}`);
    if (!(e instanceof InterruptedError) || existsSync(manifestPath(runDir))) throw e;
    const cp = readCheckpointMeta(runDir);
    const msg = `interrupted; resume with: vigil train --resume ${runDir}${cp ? ` (continues after ${cp.stage} epoch ${cp.epoch})` : ' (no checkpoint yet: training starts over)'}`;
    log(msg);
    throw new InterruptedError(e.signal, msg);
  } finally {
    if (resume) torch.dispose([...resume.tensors.values()]);
    await augment?.close();
    det?.dispose();
    await data?.close();
  }
}
