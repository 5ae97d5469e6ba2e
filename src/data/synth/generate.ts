import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../image/decode.js';
import { encodePng } from '../image/png.js';
import { deriveSeed, mulberry32 } from '../random.js';
import { DEFECTS, paintDefect, type Defect } from './defects.js';
import { CATEGORIES, renderGood, type Category } from './textures.js';

export interface SynthOptions {
  /** Default: all of woven, grainy, striped, object. */
  categories?: readonly Category[];
  /** Default: all of scratch, hole, stain, missing, colour. */
  defects?: readonly Defect[];
  /** Square image side in pixels (default 256, MVTec-like pre-resize size). */
  size?: number;
  /** train/good images per category (default 40). */
  trainCount?: number;
  /** test/good images per category (default 10). */
  testGoodCount?: number;
  /** test/<defect> images per defect type and category (default 5). */
  testDefectCount?: number;
  /** Default 0. Same seed and options → byte-identical files. */
  seed?: number;
}

export interface SynthSample {
  /** The image as written (HWC RGB bytes). */
  image: Uint8Array;
  /** The same sample before the defect was painted (equals `image` for good samples). */
  clean: Uint8Array;
  /** H·W bytes, 0/1; all zero for good samples. */
  mask: Uint8Array;
  size: number;
}

const MARKER = 'synth.json';

/**
 * Renders one sample. Good pixels come from a stream seeded by (seed, category, split, index), the
 * defect from a separate stream, so `clean` is exactly the image without its defect.
 */
export function renderSample(category: Category, defect: Defect | null, seed: number, split: string, index: number, size = 256): SynthSample {
  if (!CATEGORIES.includes(category)) throw new Error(`synth: unknown category '${String(category)}' (use ${CATEGORIES.join(', ')})`);
  if (defect !== null && !DEFECTS.includes(defect)) throw new Error(`synth: unknown defect '${String(defect)}' (use ${DEFECTS.join(', ')})`);
  const good = renderGood(category, mulberry32(deriveSeed(seed, category, split, index)), size);
  const clean = toBytes(good.rgb, size);
  if (defect === null) return { image: clean, clean, mask: new Uint8Array(size * size), size };
  const mask = paintDefect(defect, good, mulberry32(deriveSeed(seed, category, split, index, 'defect', defect)), size);
  return { image: toBytes(good.rgb, size), clean, mask, size };
}

function toBytes(rgb: Float32Array, size: number): Uint8Array {
  const n = size * size;
  const out = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const v = Math.round(rgb[c * n + i]! * 255);
      out[i * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}

export interface SynthSummary {
  root: string;
  categories: Category[];
  files: number;
}

function count(name: string, v: number | undefined, dflt: number): number {
  const x = v ?? dflt;
  if (!Number.isInteger(x) || x < 0) throw new Error(`generateSynthDataset: ${name} must be a non-negative integer, got ${String(v)}`);
  return x;
}

/**
 * Writes an MVTec-AD-style tree under `outDir`:
 * `<category>/train/good/000.png`, `<category>/test/good/000.png`, `<category>/test/<defect>/000.png`,
 * `<category>/ground_truth/<defect>/000_mask.png` (0/255, same size as the image), plus
 * `<category>/synth.json` (the options, marks the folder as generated so it may be regenerated).
 * A category folder that exists without that marker is refused rather than overwritten.
 */
export async function generateSynthDataset(outDir: string, options: SynthOptions = {}): Promise<SynthSummary> {
  const categories = [...(options.categories ?? CATEGORIES)];
  const defects = [...(options.defects ?? DEFECTS)];
  const size = options.size ?? 256;
  if (!Number.isInteger(size) || size < 32 || size > 4096) throw new Error(`generateSynthDataset: size must be an integer in 32..4096, got ${size}`);
  const trainCount = count('trainCount', options.trainCount, 40);
  const testGoodCount = count('testGoodCount', options.testGoodCount, 10);
  const testDefectCount = count('testDefectCount', options.testDefectCount, 5);
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) throw new Error(`generateSynthDataset: seed must be an integer, got ${seed}`);
  for (const c of categories) if (!CATEGORIES.includes(c)) throw new Error(`generateSynthDataset: unknown category '${c}' (use ${CATEGORIES.join(', ')})`);
  for (const d of defects) if (!DEFECTS.includes(d)) throw new Error(`generateSynthDataset: unknown defect '${d}' (use ${DEFECTS.join(', ')})`);

  let files = 0;
  const write = (path: string, bytes: Uint8Array): void => {
    writeFileAtomicSync(path, bytes);
    files++;
  };
  for (const category of categories) {
    const root = join(outDir, category);
    if (existsSync(root)) {
      if (!existsSync(join(root, MARKER)) && readdirSync(root).length > 0) {
        throw new Error(`generateSynthDataset: ${root} exists and was not made by the generator (no ${MARKER}); choose another output directory`);
      }
      rmSync(root, { recursive: true, force: true });
    }
    const dirs = ['train/good', 'test/good', ...defects.flatMap((d) => [`test/${d}`, `ground_truth/${d}`])];
    for (const d of dirs) mkdirSync(join(root, d), { recursive: true });
    const name = (i: number): string => String(i).padStart(3, '0');
    for (let i = 0; i < trainCount; i++) write(join(root, 'train/good', `${name(i)}.png`), encodePng(renderSample(category, null, seed, 'train', i, size).image, size, size, 3));
    for (let i = 0; i < testGoodCount; i++) write(join(root, 'test/good', `${name(i)}.png`), encodePng(renderSample(category, null, seed, 'test', i, size).image, size, size, 3));
    for (const defect of defects) {
      for (let i = 0; i < testDefectCount; i++) {
        const s = renderSample(category, defect, seed, `test-${defect}`, i, size);
        write(join(root, 'test', defect, `${name(i)}.png`), encodePng(s.image, size, size, 3));
        const m = new Uint8Array(s.mask.length);
        for (let p = 0; p < m.length; p++) m[p] = s.mask[p] ? 255 : 0;
        write(join(root, 'ground_truth', defect, `${name(i)}_mask.png`), encodePng(m, size, size, 1));
      }
    }
    const marker = { generator: 'vigil-synth', version: 1, category, defects, size, trainCount, testGoodCount, testDefectCount, seed };
    write(join(root, MARKER), Buffer.from(JSON.stringify(marker, null, 2) + '\n'));
  }
  return { root: outDir, categories, files };
}

/** Reads the options a generated category folder was made with, or null if it was not generated. */
export function readSynthMarker(categoryDir: string): Record<string, unknown> | null {
  const p = join(categoryDir, MARKER);
  if (!existsSync(p)) return null;
  return JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
}
