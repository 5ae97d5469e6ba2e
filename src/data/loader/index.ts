export { ImageLoader, type LoaderOptions, type Batch } from './loader.js';
export { runSampleJob, sampleRng, type LoaderItem, type SampleJob, type SampleConfig } from './sample.js';
