// Loading a trained autoencoder for `initFrom`: Deep SVDD started from an earlier DCAE run (the
// pretrain → train split of OpenOOD's scripts) or from an autoencoder state dict file.
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';
import { sniffCheckpoint } from '../../torch/io/index.js';
import { MethodInputError } from '../types.js';
import { buildAutoencoder, NETWORK_CLASSES, type DsvddAutoencoder, type DsvddNetworkName } from './networks.js';

export interface PretrainedAutoencoder {
  ae: DsvddAutoencoder;
  /** Absolute path of the run directory or file. */
  path: string;
  /** One line for the log: where the weights came from. */
  description: string;
}

const HINT = 'give a DCAE run directory (vigil train --method dcae … --out DIR) or a .safetensors/.pth file holding the autoencoder state dict';

function fail(path: string, problem: string): never {
  throw new MethodInputError(`model.initFrom: ${path}: ${problem}`);
}

interface DcaeManifest {
  method?: unknown;
  dataset?: unknown;
  seed?: unknown;
  config?: { network?: unknown };
}

/** The tensors of a DCAE run directory, after checking that it is one and that its network matches. */
function readRunDir(dir: string, network: DsvddNetworkName): { tensors: Map<string, Tensor>; description: string } {
  const manifestPath = join(dir, 'model', 'manifest.json');
  if (!existsSync(manifestPath)) {
    fail(dir, `not a finished vigil run directory (model/manifest.json is missing); ${HINT}`);
  }
  let m: DcaeManifest;
  try {
    m = JSON.parse(readFileSync(manifestPath, 'utf8')) as DcaeManifest;
  } catch (e) {
    fail(manifestPath, `not valid JSON: ${(e as Error).message}`);
  }
  if (m.method !== 'dcae') {
    fail(dir, `is a '${String(m.method)}' run; Deep SVDD is initialised from a 'dcae' run (vigil train --method dcae …)`);
  }
  // A manifest always stores the resolved model config; 'fmnist' is DCAE's default network.
  const net = m.config?.network ?? 'fmnist';
  if (net !== network) {
    fail(dir, `the DCAE run uses network '${String(net)}' (${NETWORK_CLASSES[net as DsvddNetworkName]?.ae ?? 'unknown'}), this Deep SVDD uses '${network}'; train the DCAE with the same model.network, or set model.network=${String(net)}`);
  }
  const file = join(dir, 'model', 'model.safetensors');
  if (!existsSync(file)) fail(dir, 'model/model.safetensors is missing; the run directory is incomplete');
  const { tensors, metadata } = torch.loadSafetensors(file);
  if (metadata.method !== undefined && metadata.method !== 'dcae') {
    torch.dispose(tensors);
    fail(file, `holds a '${metadata.method}' model but manifest.json says 'dcae'; the run directory was mixed up`);
  }
  return { tensors, description: `DCAE run ${dir} (data ${String(m.dataset)}, seed ${String(m.seed)})` };
}

/** An autoencoder state dict from a file; a Deep-SVDD-PyTorch checkpoint contributes its `ae_net_dict`. */
function readFile(file: string): { tensors: Map<string, Tensor>; description: string } {
  const head = new Uint8Array(512);
  const fd = openSync(file, 'r');
  let n: number;
  try { n = readSync(fd, head, 0, head.length, 0); } finally { closeSync(fd); }
  const kind = sniffCheckpoint(head.subarray(0, n));
  if (kind === null) fail(file, 'neither a safetensors file nor a PyTorch checkpoint (.pth, torch.save output)');
  if (kind === 'safetensors') {
    const { tensors, metadata } = torch.loadSafetensors(file);
    if (metadata.method !== undefined && metadata.method !== 'dcae') {
      torch.dispose(tensors);
      fail(file, `holds a '${metadata.method}' model; Deep SVDD is initialised from an autoencoder ('dcae')`);
    }
    return { tensors, description: `autoencoder file ${file}` };
  }
  try {
    return { tensors: torch.loadPth(file, { key: 'ae_net_dict' }), description: `ae_net_dict of ${file}` };
  } catch (e) {
    // No ae_net_dict: the file is expected to be the autoencoder's state dict itself.
    if (!/'ae_net_dict' is missing/.test((e as Error).message)) fail(file, (e as Error).message);
  }
  try {
    return { tensors: torch.loadPth(file), description: `autoencoder file ${file}` };
  } catch (e) {
    fail(file, (e as Error).message);
  }
}

/**
 * Loads the autoencoder named by `initFrom` for `network`, in eval mode. Errors name the path and
 * the problem: missing, not a DCAE run, another network, keys or shapes that do not fit.
 */
export function loadPretrainedAutoencoder(
  initFrom: string, network: DsvddNetworkName, options: { fastDeconv?: boolean; channelsLast?: boolean; dtype?: 'float32' | 'float64' } = {},
): PretrainedAutoencoder {
  const path = resolve(initFrom);
  if (!existsSync(path)) fail(path, `does not exist; ${HINT}`);
  const { tensors, description } = statSync(path).isDirectory() ? readRunDir(path, network) : readFile(path);
  const ae = buildAutoencoder(network, { fastDeconv: options.fastDeconv ?? true, channelsLast: options.channelsLast ?? false });
  try {
    ae.loadStateDict(tensors);
  } catch (e) {
    ae.dispose();
    const netOnly = ![...tensors.keys()].some((k) => k.startsWith('deconv') || k.startsWith('decoder.'));
    fail(path, `does not hold a ${NETWORK_CLASSES[network].ae} state dict${netOnly ? ' (it has no decoder weights: is it a Deep SVDD network rather than its autoencoder?)' : ''}: ${(e as Error).message}`);
  } finally {
    torch.dispose(tensors);
  }
  if (options.dtype === 'float64') ae.to('float64');
  ae.eval();
  return { ae, path, description };
}
