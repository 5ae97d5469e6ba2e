// Builds a backbone from the registry and fills it from torchvision weights (a path or the torch
// hub cache), or from a seeded random initialisation for tests and timing. The result is frozen.
import * as torch from '../../torch/index.js';
import { backboneEntry, createBackbone, type BackboneFor } from './registry.js';
import { resolveWeights, type ResolveOptions } from './weights.js';

export interface BackboneSource<N extends string = string> {
  /** A registry name (BACKBONE_NAMES). */
  name: N;
  /** A .pth path; 'random' = untrained (seeded); undefined/null = the torchvision file in the torch hub cache. */
  weights?: string | null;
  /** Seed of the 'random' initialisation (re-seeds libtorch's global generator). Default 0. */
  randomSeed?: number;
  /** Cache folders searched when weights is not given. */
  dirs?: ResolveOptions['dirs'];
  /**
   * Fold BatchNorm into the convs (default true): faster inference, same function up to float
   * rounding, input gradients still flow. false runs torchvision's exact op sequence.
   */
  fuse?: boolean;
}

export interface LoadedBackbone<M> {
  model: M;
  /** The file the weights came from ('random' when untrained). */
  weights: string;
  /** Keys of the file dropped on purpose (a VGG file's classifier.*); every other key loads strictly. */
  ignoredKeys: string[];
}

/** A frozen backbone (eval mode, requiresGrad false), BN folded unless fuse is false. */
export function loadBackbone<N extends string>(src: BackboneSource<N>): LoadedBackbone<BackboneFor<N>> {
  const entry = backboneEntry(src.name);
  const finish = (model: BackboneFor<N>, weights: string, ignoredKeys: string[]): LoadedBackbone<BackboneFor<N>> => {
    model.freeze();
    if (src.fuse ?? true) model.fuse();
    return { model, weights, ignoredKeys };
  };
  if (src.weights === 'random') {
    torch.manualSeed(src.randomSeed ?? 0);
    return finish(createBackbone(src.name), 'random', []);
  }
  const path = resolveWeights(src.name, { path: src.weights ?? undefined, dirs: src.dirs });
  const model = createBackbone(src.name, { init: false });
  const sd = torch.loadStateDict(path);
  const ignoredKeys = entry.ignoredKeys ? [...sd.keys()].filter((k) => entry.ignoredKeys!.test(k)) : [];
  try {
    model.loadStateDict(new Map([...sd].filter(([k]) => !ignoredKeys.includes(k))));
  } catch (e) {
    model.dispose();
    throw new Error(`${path}: not ${src.name} weights (model.backbone.weights): ${(e as Error).message.split('\n').slice(0, 3).join(' ')}`);
  } finally {
    torch.dispose(sd);
  }
  return finish(model, path, ignoredKeys);
}
