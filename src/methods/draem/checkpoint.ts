// The authors' released checkpoints: train_DRAEM.py torch.save()s the two state dicts as
// `<run_name>.pckl` (ReconstructiveSubNetwork) and `<run_name>_seg.pckl` (DiscriminativeSubNetwork),
// e.g. DRAEM_seg_large_ae_large_0.0001_800_bs8_bottle_.pckl. They are ordinary .pth files (zip or
// legacy format, CUDA storages), read here by Vigil's restricted unpickler, which runs no code.
import { existsSync } from 'node:fs';
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';
import type { nn } from '../../torch/index.js';
import type { DraemNetworks } from './networks.js';

export interface CheckpointPaths {
  reconstructive: string;
  discriminative: string;
}

/**
 * The pair for a base path as test_DRAEM.py forms it: `<base>.pckl` and `<base>_seg.pckl`.
 * A path ending in `.pckl` or `_seg.pckl` is accepted for either member.
 */
export function checkpointPaths(base: string): CheckpointPaths {
  const stem = base.replace(/(_seg)?\.pckl$/, '');
  return { reconstructive: `${stem}.pckl`, discriminative: `${stem}_seg.pckl` };
}

const fmt = (s: readonly number[]): string => `[${s.join(', ')}]`;

/**
 * Copies a state-dict file into `net`. The file must hold exactly the network's keys with the same
 * shapes; otherwise the error names the file and the first key (in the network's order) that differs.
 */
export function loadNetworkFile(net: nn.Module, path: string, what: string): void {
  if (!existsSync(path)) throw new Error(`${what} checkpoint ${path} does not exist`);
  const sd = torch.loadPth(path);
  try {
    const own = torch.tidy(() => new Map([...net.stateDict()].map(([k, t]) => [k, t.shape])));
    for (const [k, shape] of own) {
      const t = sd.get(k);
      if (t === undefined) throw new Error(`${path} is not a ${what} checkpoint of this architecture: first mismatched key '${k}' is missing from the file`);
      if (!sameShape(t.shape, shape)) {
        throw new Error(`${path} is not a ${what} checkpoint of this architecture: first mismatched key '${k}' has shape ${fmt(t.shape)} in the file, ${fmt(shape)} in the network (check the widths)`);
      }
    }
    const extra = [...sd.keys()].find((k) => !own.has(k));
    if (extra !== undefined) throw new Error(`${path} is not a ${what} checkpoint of this architecture: first mismatched key '${extra}' is in the file but not in the network`);
    net.loadStateDict(sd);
  } finally {
    for (const t of sd.values()) t.dispose();
  }
}

/** Loads the authors' two state dicts into G and D (widths must match the files'; see {@link checkpointWidths}). */
export function loadCheckpoints(nets: DraemNetworks, paths: CheckpointPaths): void {
  loadNetworkFile(nets.reconstructive, paths.reconstructive, 'ReconstructiveSubNetwork');
  loadNetworkFile(nets.discriminative, paths.discriminative, 'DiscriminativeSubNetwork');
}

/**
 * The widths a checkpoint pair was trained with, read from the first conv's output channels
 * (`encoder.block1.0.weight` [base_width, 3, 3, 3], `encoder_segment.block1.0.weight` [base_channels, 6, 3, 3]).
 */
export function checkpointWidths(paths: CheckpointPaths): { reconstructiveWidth: number; discriminativeWidth: number } {
  const first = (path: string, key: string, inC: number): number => {
    if (!existsSync(path)) throw new Error(`checkpoint ${path} does not exist`);
    const sd = torch.loadPth(path);
    try {
      const t: Tensor | undefined = sd.get(key);
      if (t === undefined || t.ndim !== 4 || t.shape[1] !== inC) {
        throw new Error(`${path}: no '${key}' of shape [width, ${inC}, 3, 3]; is this a DRAEM checkpoint?`);
      }
      return t.shape[0]!;
    } finally {
      for (const t of sd.values()) t.dispose();
    }
  };
  return {
    reconstructiveWidth: first(paths.reconstructive, 'encoder.block1.0.weight', 3),
    discriminativeWidth: first(paths.discriminative, 'encoder_segment.block1.0.weight', 6),
  };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
