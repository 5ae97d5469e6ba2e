// torchvision's ImageNet weight files: where they live, where PyTorch caches them, how to fetch
// them. The official file names embed the first hex digits of the file's SHA-256 (torch.hub's
// check_hash verifies that prefix), so the name alone is enough to verify a download.
import { existsSync, statSync } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { DatasetError } from '../../data/dataset-error.js';
import { download, hashFile, type DownloadProgress } from '../../data/download.js';

export interface WeightsInfo {
  /** Architecture name as torchvision spells it. */
  name: string;
  /** torchvision's weights enum entry the file belongs to. */
  weights: string;
  file: string;
  url: string;
  /** Leading hex digits of the file's SHA-256 (from the file name). */
  sha256Prefix: string;
}

const BASE_URL = 'https://download.pytorch.org/models/';

// IMAGENET1K_V1 files: the ones torchvision's `pretrained=True` (patchcore-inspection, KDAD's
// `vgg16-397923af.pth`) load. The VGG files hold `classifier.*` too, which loadBackbone drops.
const FILES: Record<string, string> = {
  resnet18: 'resnet18-f37072fd.pth',
  resnet34: 'resnet34-b627a593.pth',
  resnet50: 'resnet50-0676ba61.pth',
  resnet101: 'resnet101-63fe2227.pth',
  resnet152: 'resnet152-394f9c45.pth',
  wide_resnet50_2: 'wide_resnet50_2-95faca4d.pth',
  wide_resnet101_2: 'wide_resnet101_2-32ee1156.pth',
  vgg11: 'vgg11-8a719046.pth',
  vgg11_bn: 'vgg11_bn-6002323d.pth',
  vgg13: 'vgg13-19584684.pth',
  vgg13_bn: 'vgg13_bn-abd245e5.pth',
  vgg16: 'vgg16-397923af.pth',
  vgg16_bn: 'vgg16_bn-6c64b313.pth',
  vgg19: 'vgg19-dcbb9e9d.pth',
  vgg19_bn: 'vgg19_bn-c79401a0.pth',
};

export const KNOWN_WEIGHTS = Object.keys(FILES);

export function weightsInfo(name: string): WeightsInfo {
  const file = FILES[name];
  if (file === undefined) throw new Error(`no known torchvision weights for '${name}' (known: ${KNOWN_WEIGHTS.join(', ')})`);
  const m = /-([a-f0-9]+)\./.exec(file)!;
  return { name, weights: 'IMAGENET1K_V1', file, url: BASE_URL + file, sha256Prefix: m[1]! };
}

/** `$TORCH_HOME/hub/checkpoints`, TORCH_HOME defaulting to `$XDG_CACHE_HOME/torch` or `~/.cache/torch`, as torch.hub. */
export function torchHubCheckpointsDir(env: NodeJS.ProcessEnv = process.env): string {
  const torchHome = env['TORCH_HOME'] ?? join(env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'torch');
  return join(torchHome, 'hub', 'checkpoints');
}

export class MissingWeightsError extends Error {
  constructor(readonly weightsName: string, readonly searched: string[]) {
    const info = weightsInfo(weightsName);
    super(
      `no ImageNet weights for ${weightsName}: ${info.file} is not in ${searched.join(' or ')}.\n` +
      `  Get them with:  vigil weights fetch ${weightsName}\n` +
      `  or download ${info.url} and copy it into ${searched[0]}\n` +
      `  or set model.backbone.weights to the path of a .pth file ('random' for untrained weights, tests only).`,
    );
    this.name = 'MissingWeightsError';
  }
}

export interface ResolveOptions {
  /** An explicit `.pth` path (wins over the cache). */
  path?: string;
  /** Folders searched, in order; default the torch hub cache. */
  dirs?: string[];
}

/** The weight file to load for `name`: the explicit path, or the official file in the cache. */
export function resolveWeights(name: string, options: ResolveOptions = {}): string {
  if (options.path !== undefined) {
    if (!existsSync(options.path)) throw new Error(`backbone weights file ${options.path} does not exist (model.backbone.weights); fix the path, or run: vigil weights fetch ${name}`);
    if (!statSync(options.path).isFile()) throw new Error(`backbone weights ${options.path} is not a file (model.backbone.weights)`);
    return options.path;
  }
  const info = weightsInfo(name);
  const dirs = options.dirs ?? [torchHubCheckpointsDir()];
  for (const d of dirs) {
    const p = join(d, info.file);
    if (existsSync(p)) return p;
  }
  throw new MissingWeightsError(name, dirs);
}

export interface FetchOptions {
  /** Destination folder; default the torch hub cache (so PyTorch finds the file too). */
  dir?: string;
  /** Replaces https://download.pytorch.org/models/ (mirrors, tests). */
  baseUrl?: string;
  onProgress?: (p: DownloadProgress) => void;
}

/**
 * Downloads the official weights (resumable), checks the SHA-256 prefix in the file name and
 * only then moves the file to its final name. Returns the path; an existing verified file is kept.
 */
export async function fetchWeights(name: string | WeightsInfo, options: FetchOptions = {}): Promise<{ path: string; skipped: boolean }> {
  // A WeightsInfo (file + sha256Prefix) fetches a file outside the built-in table (mirrors, tests).
  const info = typeof name === 'string' ? weightsInfo(name) : name;
  const dir = options.dir ?? torchHubCheckpointsDir();
  const dest = join(dir, info.file);
  if (existsSync(dest)) {
    await verifyPrefix(dest, info);
    return { path: dest, skipped: true };
  }
  const base = options.baseUrl ?? BASE_URL;
  const url = base.endsWith('/') ? base + info.file : `${base}/${info.file}`;
  // download() resumes from `<tmp>.part`; the unverified whole file never takes the final name.
  const tmp = `${dest}.unverified`;
  await download(url, tmp, { onProgress: options.onProgress });
  try {
    await verifyPrefix(tmp, info);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await rename(tmp, dest);
  return { path: dest, skipped: false };
}

async function verifyPrefix(path: string, info: WeightsInfo): Promise<void> {
  const digest = await hashFile(path, 'sha256');
  if (!digest.startsWith(info.sha256Prefix)) {
    // A bad download or a stale file is the user's to fix (exit 1), not a bug: a DatasetError.
    throw new DatasetError('checksum', `${basename(path)}: SHA-256 ${digest.slice(0, 16)}… does not start with ${info.sha256Prefix} (from the official file name ${info.file}); the file is corrupt or not the official one — delete ${path} and fetch again`, path);
  }
}
