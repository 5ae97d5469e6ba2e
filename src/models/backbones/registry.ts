// Backbone name → builder. Every torchvision architecture here has its official ImageNet file in
// weights.ts under the same name; `ignoredKeys` lists the parts of that file the module does not hold.
import type { Backbone } from './backbone.js';
import { isResNetName, ResNet, RESNET_NAMES, type ResNetName } from './resnet.js';
import { isVggName, VGG, VGG_NAMES, type VggName } from './vgg.js';

export type BackboneName = ResNetName | VggName;

/** The class a name builds: ResNet for resnet*, VGG for vgg*, the base otherwise. */
export type BackboneFor<N extends string> = N extends ResNetName ? ResNet : N extends VggName ? VGG : Backbone;

export interface BackboneEntry {
  family: 'resnet' | 'vgg';
  /** init false: skip torchvision's initialisation (weights are about to be loaded). */
  build(options: { init: boolean }): Backbone;
  /** State-dict keys of the torchvision file that the module leaves out on purpose (dropped on load). */
  ignoredKeys: RegExp | null;
}

const REGISTRY: Readonly<Record<BackboneName, BackboneEntry>> = Object.fromEntries([
  ...RESNET_NAMES.map((n) => [n, { family: 'resnet', build: ({ init }) => new ResNet(n, { init }), ignoredKeys: null } satisfies BackboneEntry]),
  ...VGG_NAMES.map((n) => [n, { family: 'vgg', build: ({ init }) => new VGG(n, { init: init ? 'torchvision' : false }), ignoredKeys: /^classifier\./ } satisfies BackboneEntry]),
]) as Record<BackboneName, BackboneEntry>;

export const BACKBONE_NAMES = Object.keys(REGISTRY) as BackboneName[];

export function isBackboneName(name: string): name is BackboneName {
  return isResNetName(name) || isVggName(name);
}

export function backboneEntry(name: string): BackboneEntry {
  if (!isBackboneName(name)) throw new Error(`backbone '${name}' is not supported (use ${BACKBONE_NAMES.join(', ')})`);
  return REGISTRY[name];
}

/** A new backbone (train mode, parameters requiring grad), torchvision-initialised unless init is false. */
export function createBackbone<N extends string>(name: N, options: { init?: boolean } = {}): BackboneFor<N> {
  return backboneEntry(name).build({ init: options.init ?? true }) as BackboneFor<N>;
}
