// Builds a ResNet and fills it from torchvision weights (a path or the torch hub cache), or from a
// seeded random initialisation for tests and timing.
import * as torch from '../../torch/index.js';
import { isResNetName, RESNET_NAMES, ResNet } from './resnet.js';
import { resolveWeights, type ResolveOptions } from './weights.js';

export interface BackboneSource {
  name: string;
  /** A .pth path; 'random' = untrained (seeded); undefined/null = the torchvision file in the torch hub cache. */
  weights?: string | null;
  /** Seed of the 'random' initialisation (re-seeds libtorch's global generator). Default 0. */
  randomSeed?: number;
  /** Cache folders searched when weights is not given. */
  dirs?: ResolveOptions['dirs'];
}

/** A frozen (eval, BN folded) backbone, and the file its weights came from ('random' when untrained). */
export function loadBackbone(src: BackboneSource): { model: ResNet; weights: string } {
  if (!isResNetName(src.name)) throw new Error(`backbone.name '${src.name}' is not supported (use ${RESNET_NAMES.join(', ')})`);
  if (src.weights === 'random') {
    torch.manualSeed(src.randomSeed ?? 0);
    const model = new ResNet(src.name);
    return { model: model.fuse(), weights: 'random' };
  }
  const path = resolveWeights(src.name, { path: src.weights ?? undefined, dirs: src.dirs });
  const model = new ResNet(src.name, { init: false });
  const sd = torch.loadStateDict(path);
  try {
    model.loadStateDict(sd);
  } catch (e) {
    model.dispose();
    throw new Error(`${path}: not ${src.name} weights (model.backbone.weights): ${(e as Error).message.split('\n').slice(0, 3).join(' ')}`);
  } finally {
    torch.dispose(sd);
  }
  return { model: model.fuse(), weights: path };
}
