// Connected components of ground-truth masks, for AUPRO. 8-connectivity, as in the MVTec AD
// authors' evaluation code (scipy.ndimage.label with a full 3x3 structure) and anomalib's
// (cv2.connectedComponents, whose default connectivity is 8).

export interface Components {
  /** Per pixel: 0 for normal pixels, 1..count for the region the pixel belongs to. */
  labels: Int32Array;
  count: number;
  /** areas[k - 1] is the pixel count of region k. */
  areas: Uint32Array;
}

/** Labels the regions of mask != 0 (row-major, width * height) in raster order of their first pixel. */
export function labelComponents(mask: Uint8Array, width: number, height: number): Components {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new Error(`labelComponents: width and height must be positive integers; got ${width} x ${height}`);
  }
  const n = width * height;
  if (mask.length !== n) {
    throw new Error(`labelComponents: mask has ${mask.length} pixels but width * height = ${width} * ${height} = ${n}`);
  }
  const labels = new Int32Array(n);
  const stack = new Int32Array(n);
  const areas: number[] = [];
  let count = 0;
  for (let start = 0; start < n; start++) {
    if (mask[start] === 0 || labels[start] !== 0) continue;
    const id = ++count;
    labels[start] = id;
    let top = 0;
    stack[top++] = start;
    let area = 0;
    while (top > 0) {
      const p = stack[--top];
      area++;
      const y = (p / width) | 0;
      const x = p - y * width;
      const y0 = y > 0 ? y - 1 : y;
      const y1 = y < height - 1 ? y + 1 : y;
      const x0 = x > 0 ? x - 1 : x;
      const x1 = x < width - 1 ? x + 1 : x;
      for (let yy = y0; yy <= y1; yy++) {
        const row = yy * width;
        for (let xx = x0; xx <= x1; xx++) {
          const q = row + xx;
          if (mask[q] !== 0 && labels[q] === 0) {
            labels[q] = id;
            stack[top++] = q;
          }
        }
      }
    }
    areas.push(area);
  }
  return { labels, count, areas: Uint32Array.from(areas) };
}
