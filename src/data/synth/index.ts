export { generateSynthDataset, renderSample, readSynthMarker, type SynthOptions, type SynthSample, type SynthSummary } from './generate.js';
export { CATEGORIES, renderGood, valueNoise, type Category, type Rendered } from './textures.js';
export { DEFECTS, paintDefect, type Defect } from './defects.js';
