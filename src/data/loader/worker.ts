// Worker-thread entry: decodes and transforms samples sent by the loader's pool.
import { parentPort, workerData } from 'node:worker_threads';
import { runSampleJob, type SampleConfig, type SampleJob } from './sample.js';

const cfg = workerData as SampleConfig;
const port = parentPort;
if (port === null) throw new Error('data/loader/worker.js must be started as a worker thread');

port.on('message', (msg: { id: number; job: SampleJob }) => {
  runSampleJob(msg.job, cfg).then(
    (sample) => {
      const transfer: ArrayBuffer[] = [sample.image.data.buffer as ArrayBuffer];
      if (sample.mask) transfer.push(sample.mask.data.buffer as ArrayBuffer);
      port.postMessage({ id: msg.id, ok: true, sample }, transfer);
    },
    (e: unknown) => port.postMessage({ id: msg.id, ok: false, message: e instanceof Error ? e.message : String(e) }),
  );
});
