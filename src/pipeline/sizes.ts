// Image sizes: the training images' size is saved with the model, and images of another size or
// aspect ratio are reported at test and predict time (the resize stretches them differently
// from the training images, or shows defects at another scale), not scored silently.
import { basename } from 'node:path';
import { readImageSize } from '../data/image/index.js';

export interface SourceSize { height: number; width: number; share: number }

async function sizesOf(paths: readonly string[]): Promise<Map<string, string[]>> {
  const by = new Map<string, string[]>();
  const sizes = await Promise.all(paths.map((p) => readImageSize(p)));
  sizes.forEach((s, i) => {
    if (!s) return;
    const k = `${s.width}×${s.height}`;
    if (!by.has(k)) by.set(k, []);
    by.get(k)!.push(paths[i]!);
  });
  return by;
}

const parse = (k: string): { width: number; height: number } => { const [w, h] = k.split('×').map(Number); return { width: w!, height: h! }; };

/** The most common size of the training images (and a warning when they differ). */
export async function trainingSize(paths: readonly string[], log: (m: string) => void): Promise<SourceSize | undefined> {
  const by = await sizesOf(paths);
  if (by.size === 0) return undefined;
  const [top, files] = [...by].sort((a, b) => b[1].length - a[1].length)[0]!;
  const n = [...by.values()].reduce((a, b) => a + b.length, 0);
  if (by.size > 1) log(`warning: the training images have ${by.size} different sizes (${[...by].map(([k, f]) => `${f.length} × ${k}`).join(', ')}); each is resized to the model's input, so parts of other sizes look stretched or scaled differently`);
  return { ...parse(top), share: files.length / n };
}

/** One message per size that differs from the training images' (aspect ratio or scale), or none. */
export function sizeMessage(size: { height: number; width: number }, source: SourceSize, count: number, example: string): string | null {
  const a = size.width / size.height, a0 = source.width / source.height;
  const scale = Math.sqrt((size.width * size.height) / (source.width * source.height));
  const aspect = Math.abs(a / a0 - 1) > 0.02;
  if (!aspect && Math.abs(scale - 1) <= 0.1) return null;
  const what = count === 1 ? `${basename(example)} is` : `${count} images (e.g. ${basename(example)}) are`;
  const why = aspect
    ? `another aspect ratio (${a.toFixed(2)} vs ${a0.toFixed(2)}): the resize distorts them differently from the training images`
    : `${scale > 1 ? 'larger' : 'smaller'} (${scale.toFixed(2)}× per side): details and defects appear at another scale than in training`;
  return `warning: ${what} ${size.width}×${size.height}, the model was trained on ${source.width}×${source.height} images — ${why}; their scores may not be comparable (crop or resize them like the training images)`;
}

/** Logs a warning per differing size among `paths`. */
export async function warnSizes(paths: readonly string[], source: SourceSize | undefined, log: (m: string) => void): Promise<void> {
  if (!source) return;
  for (const [k, files] of await sizesOf(paths)) {
    const m = sizeMessage(parse(k), source, files.length, files[0]!);
    if (m) log(m);
  }
}
