// Image dimensions from the file header, without decoding the pixels (size checks over a whole
// dataset cost a header read per file).
import { open } from 'node:fs/promises';
import sharp from 'sharp';
import { isBmp } from './bmp.js';

/** Height × width of an image file as decodeImage() would return it; null when unreadable. */
export async function readImageSize(path: string): Promise<{ height: number; width: number } | null> {
  try {
    const fh = await open(path, 'r');
    const head = new Uint8Array(26);
    try { await fh.read(head, 0, 26, 0); } finally { await fh.close(); }
    if (isBmp(head)) {
      const v = new DataView(head.buffer);
      return { width: Math.abs(v.getInt32(18, true)), height: Math.abs(v.getInt32(22, true)) };
    }
    const m = await sharp(path).metadata();
    return m.width && m.height ? { height: m.height, width: m.width } : null;
  } catch {
    return null;
  }
}
