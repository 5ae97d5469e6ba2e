// `vigil train`: resolve the config → lock the run directory → prepare and check the data → build
// → fit (checkpointed) → calibrate → save the model → evaluate on the test split. A new run that
// fails on the user's input before it has anything worth keeping leaves only its log.txt (which
// says why), and the same --out takes a new run once the input is fixed.
import { existsSync, mkdirSync, readdirSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as torch from '../torch/index.js';
import type { Detector, FitContext, TrainingState } from '../methods/types.js';
import { AugmentPool } from './augment.js';
import { calibrate, type Calibration } from './calibrate.js';
import { checkMaskSizes, checkTrainSize } from './checks.js';
import { configToYaml, modelSchemaOf, parseSavedConfig, parseSet, readYamlFile, resolveConfig, type VigilConfig } from './config.js';
import { applicableConfig, rejectUnusedKeys, resizeUsed } from './applicable.js';
import { FileSplit, parseDataSpec, prepareData, type DataSplit, type PreparedData } from './data.js';
import { InterruptedError, isUserError, UserError } from './errors.js';
import { checkOutputFolder, isErrnoError, isVigilOutput, writeAtomic } from './fsutil.js';
import { getMethod, type AnyMethod } from './registry.js';
import {
  checkFinite, checkpointPath, dataFingerprint, defaultRunDir, fingerprintChange, fingerprintPath, holdsRun, manifestPath, readCheckpoint,
  readCheckpointMeta, readFingerprint, modelPath, RunLock, RunLog, writeCheckpoint, writeFingerprint, writeModel,
} from './run-dir.js';
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
    if (!existsSync(cfgPath)) {
      const failed = existsSync(runDir) && statSync(runDir).isDirectory() && failedRunLog(runDir);
      throw new UserError(failed
        ? `--resume ${o.resume}: that run failed before it began (the reason is the last line of ${join(runDir, 'log.txt')}); fix it and start a new run with the same --out`
        : `--resume ${o.resume}: ${cfgPath} not found; is this a vigil run directory?`, { code: 'RUN_NOT_FOUND' });
    }
    if (existsSync(manifestPath(runDir))) throw new UserError(`--resume ${o.resume}: this run already finished (model/manifest.json exists); start a new run instead`, { code: 'RUN_FINISHED' });
    // A resumed run continues with the settings it started with; silently ignoring a change
    // would train something else than the user asked for.
    const given = [
      ...(o.set ?? []).map((s) => `--set ${s}`), ...(o.config ? ['--config'] : []), ...(o.data ? ['--data'] : []),
      ...(o.seed !== undefined ? ['--seed'] : []), ...(o.dataRoot !== undefined ? ['--data-root'] : []), ...(o.out !== undefined ? ['--out'] : []),
    ];
    if (given.length > 0) {
      throw new UserError(`--resume continues ${runDir} with the settings it started with (${cfgPath}) and does not take ${given.join(', ')}; to train with other settings, start a new run: vigil train --config ${cfgPath} --set … --out <new folder>`, { code: 'CONFIG_INVALID' });
    }
    const raw = readYamlFile(cfgPath, 'run config');
    if (typeof raw.method !== 'string') throw new UserError(`${cfgPath}: 'method' is missing`, { code: 'RUN_INVALID' });
    const method = await getMethod(raw.method);
    const config = parseSavedConfig(raw, modelSchemaOf(method), cfgPath);
    if (o.method && o.method !== config.method) throw new UserError(`--resume: the run was trained with method '${config.method}', not '${o.method}'`);
    const warnings: string[] = [];
    // The device says where the run computes, not what: it may change (said in the log).
    if (o.device !== undefined && o.device !== config.device) {
      warnings.push(`--device ${o.device} replaces device ${config.device} of ${cfgPath} for the rest of the run`);
      config.device = o.device;
    }
    return { config, method, runDir, warnings };
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
  checkNewRunDir(runDir);
  config.output.dir = runDir;
  return { config, method, runDir, warnings };
}

/** A folder that holds nothing but the log.txt of a `vigil train` that failed before it began. */
function failedRunLog(dir: string): boolean {
  return readdirSync(dir).filter((n) => !n.startsWith('.')).join('/') === 'log.txt' && isVigilOutput(dir, 'train');
}

/**
 * A new run goes into a new or empty folder, or one left by a run that failed on its input:
 * never over another run, never among the user's files.
 */
function checkNewRunDir(runDir: string): void {
  if (existsSync(runDir) && holdsRun(runDir)) throw new UserError(`run directory ${runDir} already holds a run; choose another --out (or --resume it if it was interrupted)`, { code: 'RUN_EXISTS' });
  checkOutputFolder(runDir, '--out', failedRunLog, 'a vigil run directory');
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
  const existed = existsSync(runDir);
  mkdirSync(runDir, { recursive: true });
  const lock = RunLock.acquire(runDir, o.resume ? `vigil train --resume` : `vigil train --method ${config.method}`);
  // Set once the run has written what it must keep: a checkpoint, a model, or the start of a resume.
  let keep = o.resume !== undefined;
  const written: string[] = [];
  try {
    // Checked again under the lock: another process may have started a run here meanwhile.
    if (!o.resume && holdsRun(runDir)) {
      keep = true;
      throw new UserError(`run directory ${runDir} already holds a run (started by another process); choose another --out`, { code: 'RUN_EXISTS' });
    }
    if (o.resume && existsSync(manifestPath(runDir))) throw new UserError(`--resume ${o.resume}: this run already finished (model/manifest.json exists); start a new run instead`, { code: 'RUN_FINISHED' });
    if (!o.resume) {
      // The log of an earlier attempt that failed before it began is superseded.
      if (existed && failedRunLog(runDir)) rmSync(join(runDir, 'log.txt'));
      written.push(join(runDir, 'config.yaml'));
      writeAtomic(join(runDir, 'config.yaml'), configToYaml(applicableConfig(config, resizeUsed(config, method.inputs?.(config.model) ?? {}))));
    }
    const { log } = new RunLog(join(runDir, 'log.txt'), o.onLog);
    log(`vigil ${VIGIL_VERSION} ${o.resume ? 'resume' : 'train'}: method ${config.method}, data ${config.dataset.spec}, seed ${config.seed}, ${threads} thread${threads === 1 ? '' : 's'}, device ${device}, run ${runDir}`);
    if (lock.replaced) log(`removed the stale lock of vigil process ${lock.replaced.pid} (${lock.replaced.command}, since ${lock.replaced.started}), which no longer runs`);
    for (const w of warnings) log(`warning: ${w}`);
    written.push(fingerprintPath(runDir));
    return await fitAndSave({ config, method, runDir, threads, device, log, o, onKeep: () => { keep = true; } });
  } catch (e) {
    // A new run that failed on the user's input before it wrote anything worth keeping keeps
    // only its log (the reason is its last line): the same --out takes a new run once the input
    // is fixed, and --resume does not try to continue it.
    const userCaused = isUserError(e) || isErrnoError(e);
    if (!keep && userCaused && !existsSync(checkpointPath(runDir)) && !existsSync(manifestPath(runDir))) {
      for (const f of written) rmSync(f, { force: true });
      lock.release();
      if (!existed && !existsSync(join(runDir, 'log.txt'))) try { rmdirSync(runDir); } catch { /* not empty: something else was written there */ }
    }
    throw e;
  } finally {
    lock.release();
  }
}

interface FitInput {
  config: VigilConfig;
  method: AnyMethod;
  runDir: string;
  threads: number;
  device: string;
  log: (m: string) => void;
  o: TrainOptions;
  /** Called once the run has something to keep (it reached fit(), or resumes). */
  onKeep: () => void;
}

const skippedOf = (s: DataSplit | null): number => (s instanceof FileSplit ? s.skipped.length : 0);

async function fitAndSave({ config, method, runDir, threads, device, log, o, onKeep }: FitInput): Promise<TrainResult> {
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
    // The data the run started on is the data it resumes on.
    const fingerprint = dataFingerprint(config.dataset.spec, { train: data.train, held_out: data.calib, validation: data.val, test: data.test });
    const saved = o.resume ? readFingerprint(runDir) : null;
    if (o.resume && !saved) log(`warning: ${fingerprintPath(runDir)} is missing: cannot check that the data is what the run started on`);
    const change = saved ? fingerprintChange(saved, fingerprint) : null;
    if (change) {
      throw new UserError(`--resume ${runDir}: the data changed since the run started (${change}); resuming would fit one model on two datasets: restore the data, or start a new run`, { code: 'DATA_CHANGED' });
    }
    if (!saved) writeFingerprint(runDir, fingerprint);
    // Checks that depend on the data, before any fitting.
    checkTrainSize(method, data, config, 0);
    await checkMaskSizes([data.val, data.test]);
    det = method.create(config.model, data.imageShape, { device });
    if (inputs.trainAugment) {
      augment = new AugmentPool(inputs.trainAugment, config.train.workers ?? Math.max(1, Math.min(4, threads - 1)));
      log(`augment: ${inputs.trainAugment.export} from ${inputs.trainAugment.module.replace(/^.*\//, '')} in ${augment.size} worker thread${augment.size === 1 ? '' : 's'}`);
    }
    const t0 = performance.now();
    await det.fit(trainData(data.train, data.imageShape, { device, seed: config.seed, ...(augment ? { augment } : {}), ...(o.signal ? { signal: o.signal } : {}) }), fitContext(config, runDir, log, o, resume));
    await augment?.close();
    augment = null;
    const fitS = (performance.now() - t0) / 1000;
    log(`fit: ${fitS.toFixed(2)} s`);
    const skipped = { train: skippedOf(data.train), calib: skippedOf(data.calib), val: skippedOf(data.val) };
    checkTrainSize(method, data, config, skipped.train);
    // A diverged fit (NaN weights) is said as such, not as a non-finite score during calibration.
    torch.tidy(() => checkFinite(det!.state().tensors, modelPath(runDir), 'save'));

    const calibration = widenThreshold(await calibrate(det, data, config, o, log, device), log);
    onKeep();
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
        counts: {
          train: data.train.size - skipped.train, held_out_normal: (data.calib?.size ?? 0) - skipped.calib, validation: (data.val?.size ?? 0) - skipped.val,
          skipped_unreadable: skipped.train + skipped.calib + skipped.val,
        },
      });
    } else {
      log('no test split: metrics.json and report.html are not written');
    }
    log('done');
    return { runDir, metrics, manifest };
  } catch (err) {
    // Whatever a method throws once the user asked to stop is the stop (e.g. a coreset loop's own abort error).
    const e = o.signal?.aborted && o.signal.reason instanceof InterruptedError && !(err instanceof InterruptedError) ? o.signal.reason : err;
    if (!(e instanceof InterruptedError)) log(`error: ${(e as Error).message}`);
    if (!(e instanceof InterruptedError) || existsSync(manifestPath(runDir))) throw e;
    const cp = readCheckpointMeta(runDir);
    const msg = `interrupted; resume with: vigil train --resume ${runDir}${cp ? ` (continues after ${cp.stage} epoch ${cp.epoch})` : ' (no checkpoint yet: training starts over)'}`;
    log(msg);
    onKeep();
    throw new InterruptedError(e.signal, msg);
  } finally {
    if (resume) torch.dispose([...resume.tensors.values()]);
    await augment?.close();
    det?.dispose();
    await data?.close();
  }
}

/**
 * Normal calibration scores without any spread (identical or blank images, or a model that gives
 * every image one score) are warned about. Where the rule put the threshold at that one score
 * (quantile, f1), the images it came from would be NG (score >= threshold) and the normalised
 * scale would have no width: the threshold then moves just above them. (The tolerance rule
 * already sets it above the largest calibration score.)
 */
export function widenThreshold(c: Calibration, log: (m: string) => void): Calibration {
  const out: Calibration = { ...c, threshold: { ...c.threshold }, normalisation: { ...c.normalisation } };
  const fmt = (x: number): string => String(Number(x.toPrecision(6)));
  for (const kind of ['image', 'pixel'] as const) {
    const t = c.threshold[kind];
    const n = c.normalisation[kind];
    if (!t || !n || n.max > n.min || t.samples < 2) continue;
    const v = n.max;
    if (t.rule === 'manual' || t.value > v) {
      log(`warning: all ${t.samples} calibration ${kind} scores equal ${fmt(v)}: the model gives these normal images one score (identical or blank images?); add different normal images`);
      continue;
    }
    const widened = v + Math.max(Math.abs(v) * 1e-4, 1e-6);
    out.threshold[kind] = { ...t, value: widened };
    out.normalisation[kind] = { ...n, threshold: widened };
    log(`warning: all ${t.samples} calibration ${kind} scores equal ${fmt(v)}: the threshold is set just above, to ${fmt(widened)}, so that these images are normal; the model gives them one score (identical or blank images?): add different normal images`);
  }
  return out;
}
