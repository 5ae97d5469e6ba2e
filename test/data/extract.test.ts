import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { extractArchive } from '../../src/data/extract.js';
import { fetchDataset, DATASET_SOURCES, type DatasetSource } from '../../src/data/sources.js';
import { DatasetError } from '../../src/data/dataset-error.js';
import { mulberry32 } from '../../src/data/random.js';

const rand = mulberry32(7);
const LONG = `${'deep-folder-name/'.repeat(5)}${'x'.repeat(60)}.bin`; // > 100 chars: needs GNU/pax long names
const TREE: Record<string, Buffer> = {
  'top.txt': Buffer.from('hello\n'),
  'sub/exact512.bin': Buffer.from(Uint8Array.from({ length: 512 }, () => Math.floor(rand.next() * 256))),
  'sub/odd.bin': Buffer.from(Uint8Array.from({ length: 70_001 }, () => Math.floor(rand.next() * 256))),
  'empty.dat': Buffer.alloc(0),
  [LONG]: Buffer.from('long name\n'),
};

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-x-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function makeTree(src: string): Promise<void> {
  for (const [rel, data] of Object.entries(TREE)) {
    await mkdir(join(src, rel, '..'), { recursive: true });
    await writeFile(join(src, rel), data);
  }
  await symlink('top.txt', join(src, 'link.txt'));
}

async function checkTree(out: string): Promise<void> {
  for (const [rel, data] of Object.entries(TREE)) {
    assert.ok((await readFile(join(out, rel))).equals(data), rel);
  }
}

test('tar, tar.gz (GNU and pax long names) and tar.xz extract to the same tree; links are skipped', async () => {
  await withTmp(async (dir) => {
    const src = join(dir, 'src');
    await makeTree(src);
    const archives = [
      ['gnu.tar.gz', ['-czf', '--format=gnu']],
      ['pax.tar', ['-cf', '--format=pax']],
      ['v7ish.tgz', ['-czf', '--format=ustar']],
      ['x.tar.xz', ['-cJf']],
    ] as const;
    for (const [name, flags] of archives) {
      const [mode, ...rest] = flags;
      const members = name.startsWith('v7ish') ? ['top.txt', 'sub', 'empty.dat', 'link.txt'] : ['.'];
      execFileSync('tar', [mode, join(dir, name), ...rest, '-C', src, ...members]);
      const out = join(dir, `out-${name}`);
      const r = await extractArchive(join(dir, name), out);
      if (name.startsWith('v7ish')) {
        assert.ok((await readFile(join(out, 'sub/odd.bin'))).equals(TREE['sub/odd.bin']!));
        assert.deepEqual(r.skipped, ['link.txt']);
        continue;
      }
      await checkTree(out);
      if (!name.endsWith('.xz')) {
        assert.ok(r.files.includes(LONG), `${name}: ${r.files.join(',')}`);
        assert.ok(r.skipped.some((s) => s.endsWith('link.txt')));
        await assert.rejects(stat(join(out, 'link.txt')));
      }
    }
  });
});

test('single .gz file; corrupt and hostile archives give errors naming the archive', async () => {
  await withTmp(async (dir) => {
    await writeFile(join(dir, 'data.idx.gz'), gzipSync(Buffer.from('payload')));
    const r = await extractArchive(join(dir, 'data.idx.gz'), join(dir, 'out'));
    assert.deepEqual(r.files, ['data.idx']);
    assert.equal(await readFile(join(dir, 'out', 'data.idx'), 'utf8'), 'payload');

    await writeFile(join(dir, 'junk.tar.gz'), gzipSync(Buffer.alloc(1024, 7)));
    await assert.rejects(extractArchive(join(dir, 'junk.tar.gz'), join(dir, 'o2')), (e: unknown) =>
      e instanceof DatasetError && e.code === 'extract' && e.message.includes('junk.tar.gz') && e.message.includes('checksum'));
    await writeFile(join(dir, 'notgz.tar.gz'), Buffer.from('plain text'));
    await assert.rejects(extractArchive(join(dir, 'notgz.tar.gz'), join(dir, 'o3')), /notgz\.tar\.gz/);

    // A truncated archive: cut a valid one in the middle of a member.
    const src = join(dir, 'src');
    await makeTree(src);
    execFileSync('tar', ['-cf', join(dir, 'full.tar'), '-C', src, 'sub']);
    const full = await readFile(join(dir, 'full.tar'));
    await writeFile(join(dir, 'cut.tar'), full.subarray(0, 5000));
    await assert.rejects(extractArchive(join(dir, 'cut.tar'), join(dir, 'o4')), /cut\.tar: archive is truncated/);

    // '..' members are refused (GNU tar keeps them with -P).
    await mkdir(join(dir, 'a', 'b'), { recursive: true });
    await writeFile(join(dir, 'a', 'secret'), 'x');
    execFileSync('tar', ['-cPf', join(dir, 'evil.tar'), '../secret'], { cwd: join(dir, 'a', 'b') });
    await assert.rejects(extractArchive(join(dir, 'evil.tar'), join(dir, 'o5')), /'\.\.\/secret' points outside the extraction folder/);
    await assert.rejects(extractArchive(join(dir, 'x.zip'), join(dir, 'o6')), /unknown archive type/);
  });
});

test('a missing archive or a corrupt gzip header is an error naming the file, however early it happens (never an unhandled stream error)', async () => {
  await withTmp(async (dir) => {
    await writeFile(join(dir, 'notgz.tar.gz'), Buffer.from('plain text'));
    // The read and the inflate race the extractor's first await: repeat to meet both orders.
    for (let i = 0; i < 100; i++) {
      await assert.rejects(extractArchive(join(dir, 'notgz.tar.gz'), join(dir, 'o')), (e: unknown) => e instanceof DatasetError && e.message.includes('notgz.tar.gz'));
      for (const name of ['missing.tar', 'missing.tgz', 'missing.gz']) {
        await assert.rejects(extractArchive(join(dir, name), join(dir, 'o')), (e: unknown) => e instanceof DatasetError && e.message.includes(name) && e.message.includes('ENOENT'));
      }
    }
  });
});

test('fetchDataset: mirror fallback, checksum, extraction once; registry entries are complete', async () => {
  for (const [id, s] of Object.entries(DATASET_SOURCES)) {
    assert.ok(s.files.length > 0 && s.files.every((f) => f.urls.length > 0 && f.urls.every((u) => /^https?:\/\//.test(u))), id);
    assert.ok(s.files.every((f) => (f.md5 === undefined || /^[0-9a-f]{32}$/.test(f.md5)) && (f.sha256 === undefined || /^[0-9a-f]{64}$/.test(f.sha256))), id);
  }
  await withTmp(async (dir) => {
    const src = join(dir, 'src');
    await makeTree(src);
    execFileSync('tar', ['-czf', join(dir, 'pack.tar.gz'), '-C', src, '.']);
    const pack = await readFile(join(dir, 'pack.tar.gz'));
    const requests: string[] = [];
    const server = createServer((req, res) => {
      requests.push(req.url ?? '');
      if (req.url === '/good/pack.tar.gz') {
        res.writeHead(200, { 'content-length': pack.length });
        res.end(pack);
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const sources: Record<string, DatasetSource> = {
        toy: {
          title: 'toy', homepage: base, license: 'test', checksumSource: 'computed in the test', layout: 'tree',
          files: [{ filename: 'pack.tar.gz', urls: [`${base}/dead/pack.tar.gz`, `${base}/good/pack.tar.gz`], md5: createHash('md5').update(pack).digest('hex'), extract: true }],
        },
        wrong: {
          title: 'wrong', homepage: base, license: 'test', checksumSource: 'none', layout: 'tree',
          files: [{ filename: 'pack.tar.gz', urls: [`${base}/good/pack.tar.gz`], sha256: '0'.repeat(64), extract: true }],
        },
      };
      const dest = join(dir, 'dest');
      assert.equal(await fetchDataset('toy', dest, { sources }), dest);
      await checkTree(dest);
      assert.deepEqual(requests, ['/dead/pack.tar.gz', '/good/pack.tar.gz']);
      await rm(join(dest, 'top.txt'));
      await fetchDataset('toy', dest, { sources }); // verified archive and marker: nothing fetched or unpacked again
      assert.equal(requests.length, 2);
      await assert.rejects(stat(join(dest, 'top.txt')));
      await assert.rejects(fetchDataset('wrong', join(dir, 'd2'), { sources }), (e: unknown) =>
        e instanceof DatasetError && e.code === 'download' && e.message.includes('checksum mismatch'));
      assert.deepEqual(await readdir(join(dir, 'd2')), []);
      await assert.rejects(fetchDataset('nope', dest, { sources }), /unknown dataset 'nope'; known: toy, wrong/);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
