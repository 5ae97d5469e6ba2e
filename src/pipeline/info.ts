// `vigil datasets info <spec>`: what a data spec resolves to, without training anything.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { schemaKeys, type SchemaKey } from '../methods/schema.js';
import { CONFIGS_DIR, modelSchemaOf, resolveConfig, rootSchema } from './config.js';
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

export interface MethodInfo {
  name: string;
  description: string;
  /** The `model.*` keys: what each accepts and its default (from the method's schema). */
  keys: SchemaKey[];
  /** Presets under configs/<name>/, by dataset kind (train --data <kind>:… picks one). */
  presets: string[];
}

/** `vigil methods <name>`: a method's config keys and presets. */
export async function methodInfo(name: string): Promise<MethodInfo> {
  const m = await getMethod(name);
  const dir = join(CONFIGS_DIR, name);
  const presets = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5)).sort() : [];
  return { name: m.name, description: m.description, keys: schemaKeys(modelSchemaOf(m), 'model'), presets };
}

/** The pipeline's own sections (everything but `model`): the same rows for every method. */
export function pipelineKeys(): SchemaKey[] {
  return schemaKeys(rootSchema(z.strictObject({}))).filter((k) => k.key !== 'method' && !k.key.startsWith('model'));
}
