// `vigil datasets info <spec>`: what a data spec resolves to, without training anything.
import { modelSchemaOf, resolveConfig } from './config.js';
import { prepareData } from './data.js';
import { getMethod } from './registry.js';

export interface DatasetInfo {
  spec: string;
  name: string;
  /** C×H×W of the model inputs with the default preprocessing. */
  input: string;
  /** The splits exactly as `vigil train` makes them (same config, same seed). */
  train: number;
  held_out_normal: number;
  validation_normal: number;
  validation_anomalous: number;
  test_normal: number;
  test_anomalous: number;
  masks: boolean;
  /** Test images per defect type ('good' included), validation excluded. */
  defects: Record<string, number>;
}

export async function datasetInfo(spec: string, o: { dataRoot?: string; set?: readonly string[] } = {}): Promise<DatasetInfo> {
  const method = await getMethod('pixelstats');
  const { config } = resolveConfig({ method: 'pixelstats', modelSchema: modelSchemaOf(method), data: spec, ...(o.set ? { set: o.set } : {}), flags: o.dataRoot ? { dataset: { root: o.dataRoot } } : {} });
  const d = await prepareData(config, method.inputs?.(config.model) ?? {});
  try {
    const defects: Record<string, number> = {};
    d.test?.defects.forEach((x) => { defects[x] = (defects[x] ?? 0) + 1; });
    const count = (l: Int32Array | undefined, v: number): number => (l ? l.filter((x) => x === v).length : 0);
    return {
      spec,
      name: d.name,
      input: d.imageShape.join('×'),
      train: d.train.size,
      held_out_normal: d.calib?.size ?? 0,
      validation_normal: count(d.val?.labels, 0),
      validation_anomalous: count(d.val?.labels, 1),
      test_normal: count(d.test?.labels, 0),
      test_anomalous: count(d.test?.labels, 1),
      masks: d.test?.hasMasks ?? false,
      defects,
    };
  } finally {
    await d.close();
  }
}
