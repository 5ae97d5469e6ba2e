// `vigil datasets download dtd`: the registry entry (official archive, published checksums) and, on
// a loopback server standing in for robots.ox.ac.uk, a download that drops mid-body and resumes
// with Range, checksum verification and extraction into the layout DRAEM reads (dtd/images/<category>/*.jpg).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { mulberry32 } from '../../src/data/random.js';
import { DATASET_SOURCES, fetchDataset, type DatasetSource } from '../../src/data/sources.js';
import { folderSource } from '../../src/methods/draem/source.js';

test('the DTD entry names the official archive and both published checksums', () => {
  const s = DATASET_SOURCES.dtd;
  assert.equal(s.files.length, 1);
  const f = s.files[0]!;
  assert.equal(f.filename, 'dtd-r1.0.1.tar.gz');
  assert.equal(f.urls[0], 'https://www.robots.ox.ac.uk/~vgg/data/dtd/download/dtd-r1.0.1.tar.gz');
  assert.equal(f.sha256, 'e42855a52a4950a3b59612834602aa253914755c95b0cff9ead6d07395f8e205');
  assert.equal(f.md5, 'fff73e5086ae6bdbea199a49dfb8a4c1');
  assert.equal(f.extract, true);
  assert.match(s.layout, /dtd\/images\/<category>\/\*\.jpg/);
});

test('download (dropped once, resumed with Range), checksums, extraction: DRAEM reads dtd/images', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-dtd-'));
  try {
    // A miniature of the real archive's tree: dtd/{images/<category>/*.jpg, labels, imdb}.
    const src = join(dir, 'src');
    const jpeg = (r: number, g: number, b: number): Promise<Buffer> =>
      sharp({ create: { width: 40, height: 30, channels: 3, background: { r, g, b } } }).jpeg({ quality: 95 }).toBuffer();
    for (const [cat, files] of [['zigzagged', ['zigzagged_0001.jpg']], ['banded', ['banded_0002.jpg', 'banded_0001.jpg']]] as const) {
      mkdirSync(join(src, 'dtd', 'images', cat), { recursive: true });
      for (const f of files) writeFileSync(join(src, 'dtd', 'images', cat, f), await jpeg(cat === 'banded' ? 200 : 10, 100, cat === 'banded' ? 10 : 220));
    }
    mkdirSync(join(src, 'dtd', 'labels'));
    writeFileSync(join(src, 'dtd', 'labels', 'train1.txt'), 'banded/banded_0001.jpg\n');
    // Incompressible bulk (the real archive's imdb.mat), so the dropped first response carries data.
    mkdirSync(join(src, 'dtd', 'imdb'));
    const rng = mulberry32(7);
    writeFileSync(join(src, 'dtd', 'imdb', 'imdb.mat'), Uint8Array.from({ length: 200_000 }, () => Math.floor(rng.next() * 256)));
    writeFileSync(join(src, 'dtd', 'images', 'banded', '.directory'), 'not an image');
    execFileSync('tar', ['-czf', join(dir, 'dtd.tar.gz'), '-C', src, 'dtd']);
    const body = readFileSync(join(dir, 'dtd.tar.gz'));

    const ranges: Array<string | undefined> = [];
    let hits = 0;
    const server = createServer((req, res) => {
      ranges.push(req.headers.range);
      const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
      const rest = body.subarray(from);
      res.writeHead(from ? 206 : 200, { 'content-length': rest.length, ...(from ? { 'content-range': `bytes ${from}-${body.length - 1}/${body.length}` } : {}) });
      if (hits++ === 0) res.write(rest.subarray(0, rest.length >> 1), () => setTimeout(() => res.socket?.destroy(), 20));
      else res.end(rest);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dtd-r1.0.1.tar.gz`;
    try {
      const real = DATASET_SOURCES.dtd;
      const file = {
        ...real.files[0]!, urls: [url],
        sha256: createHash('sha256').update(body).digest('hex'), md5: createHash('md5').update(body).digest('hex'),
      };
      const sources: Record<string, DatasetSource> = { dtd: { ...real, files: [file] } };
      const dest = join(dir, 'data');
      assert.equal(await fetchDataset('dtd', dest, { sources }), dest);
      assert.equal(ranges[0], undefined);
      assert.match(ranges[1] ?? '', /^bytes=\d+-$/, 'the second request resumes the part file');

      const s = await folderSource(join(dest, 'dtd', 'images'));
      assert.equal(s.size, 3);
      assert.match(s.description, /3 images in .*dtd\/images/);
      // sorted(glob('*/*.jpg')): banded_0001, banded_0002, zigzagged_0001; read as BGR at the asked size.
      const first = await s.get(0, 32, 32);
      assert.equal(first.length, 32 * 32 * 3);
      assert.ok(Math.abs(first[0]! - 10) <= 3 && Math.abs(first[2]! - 200) <= 3, `banded pixel BGR ${first.slice(0, 3).join(',')}`);
      const last = await s.get(2, 32, 32);
      assert.ok(Math.abs(last[0]! - 220) <= 3 && Math.abs(last[2]! - 10) <= 3, `zigzagged pixel BGR ${last.slice(0, 3).join(',')}`);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
