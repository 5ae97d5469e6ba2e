// The web UI in real headless Chromium (Debian's /usr/bin/chromium via playwright-core): upload
// and drop images, overlay toggle and opacity, the threshold slider re-labelling the history,
// applying a threshold, operator relabel, CSV export, the models tab with the training report,
// and the token prompt. Screenshots go to $VIGIL_UI_SHOTS (else a temp folder).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { serve, type RunningServer } from '../../src/server/index.js';
import { parseCsv } from '../cli/helpers.js';
import { tempDir, trainFixture } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
let dir: string;
let shots: string;
let fx: ReturnType<typeof trainFixture>;
let srv: RunningServer;
let ctx: BrowserContext;

async function browser(): Promise<BrowserContext> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: the UI tests need Debian's chromium (VIGIL_SETUP_TEST=1 bash scripts/setup.sh installs it)`);
  return chromium.launchPersistentContext(mkdtempSync(join(dir, 'profile-')), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

async function page(): Promise<Page> {
  const p = await ctx.newPage();
  const errors: string[] = [];
  p.on('pageerror', (e) => errors.push(e.message));
  p.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  (p as Page & { errors: string[] }).errors = errors;
  return p;
}
const pageErrors = (p: Page): string[] => (p as Page & { errors: string[] }).errors;

const api = async (path: string, init?: RequestInit): Promise<any> => (await fetch(`${srv.url}${path}`, init)).json();

before(async () => {
  dir = tempDir('vigil-ui-');
  shots = process.env.VIGIL_UI_SHOTS ?? join(dir, 'shots');
  mkdirSync(shots, { recursive: true });
  fx = trainFixture(dir);
  srv = await serve({ models: [{ name: 'woven', dir: fx.run }], port: 0, history: join(dir, 'history'), workers: 1, threads: 1, onLog: () => undefined });
  ctx = await browser();
});
after(async () => {
  await ctx?.close();
  await srv?.close();
});

test('inspect: pick and drop images → verdict, score and heatmap beside the original; overlay toggle and opacity', async (t) => {
  const p = await page();
  await p.goto(`${srv.url}/`);
  await p.waitForSelector('#model option[value="woven"]', { state: 'attached' });
  const files = [fx.defect[0]!, fx.good[0]!];
  await p.setInputFiles('#files', files);
  await p.waitForSelector('.card >> nth=1');
  const cards = await p.$$eval('.card', (cs) => cs.map((c) => ({
    id: Number(c.getAttribute('data-id')),
    verdict: c.querySelector('.verdict')!.getAttribute('data-verdict'),
    score: c.querySelector('.score')!.textContent,
    images: [...c.querySelectorAll('img')].map((i) => ({ w: i.naturalWidth, layer: i.classList.contains('layer') })),
  })));
  assert.equal(cards.length, 2);
  for (const c of cards) {
    const ins = await api(`/v1/inspections/${c.id}`);
    assert.equal(c.verdict, ins.verdict, 'the card shows the stored verdict');
    assert.equal(Number(c.score), Number(ins.score.toFixed(4)));
    assert.deepEqual(c.images.map((i) => i.layer), [false, false, true], 'original | original + heatmap layer');
    assert.ok(c.images.every((i) => i.w === 96), `images decoded at 96 px: ${JSON.stringify(c.images)}`);
  }
  assert.match(await p.textContent('#inspect-status') ?? '', /^2 scored in \d+ ms: \d anomalous, \d normal\.$/);
  await p.fill('#overlay-opacity', '30');
  assert.equal(await p.$eval('.card img.layer', (i: any) => i.style.opacity), '0.3');
  await p.screenshot({ path: join(shots, 'inspect.png'), fullPage: true });
  await p.uncheck('#overlay-on');
  assert.equal(await p.$eval('.card img.layer', (i: any) => i.hidden), true);
  await p.check('#overlay-on');
  await p.fill('#overlay-opacity', '100');

  // Drag and drop: a real DataTransfer with a File built in the page.
  const bytes = [...readFileSync(fx.defect[1]!)];
  const dt = await p.evaluateHandle((b) => {
    const g = globalThis as any;
    const d = new g.DataTransfer();
    d.items.add(new File([new Uint8Array(b)], 'dropped.png', { type: 'image/png' }));
    return d;
  }, bytes);
  await p.dispatchEvent('#drop', 'drop', { dataTransfer: dt });
  await p.waitForSelector('.card >> nth=2');
  assert.match(await p.textContent('.card >> nth=0') ?? '', /dropped\.png/);
  assert.deepEqual(pageErrors(p), []);
  t.diagnostic(`screenshot: ${join(shots, 'inspect.png')}`);
  await p.close();
});

test('history: the slider re-labels past items live and counts flips; apply, relabel, export CSV', async (t) => {
  // More history: every test image once.
  const form = new FormData();
  for (const f of [...fx.good, ...fx.defect]) form.append('image', new Blob([readFileSync(f)], { type: 'image/png' }), f.split('/').pop());
  assert.equal((await fetch(`${srv.url}/v1/models/woven/predict?images=none`, { method: 'POST', body: form })).status, 200);
  const scores = (await api('/v1/models/woven/scores')).items as Array<[number, number, string, string | null]>;
  const trained = (await api('/v1/models/woven')).threshold.trained as number;

  const p = await page();
  await p.goto(`${srv.url}/`);
  await p.click('#tab-history');
  await p.waitForSelector('#history-table tbody tr');
  const flips = async (): Promise<number> => Number(await p.getAttribute('#thr-summary b[data-flips]', 'data-flips'));
  assert.equal(await flips(), 0, 'at the threshold in use nothing flips');
  // Slider all the way down: every past 'normal' becomes anomalous.
  await p.focus('#thr-slider');
  await p.keyboard.press('Home');
  const normals = scores.filter((s) => s[2] === 'normal').length;
  assert.ok(normals > 0);
  assert.equal(await flips(), normals);
  assert.match(await p.textContent('#thr-summary') ?? '', new RegExp(`${normals} of ${scores.length} past inspections would flip \\(${normals} → anomalous, 0 → normal\\)`));
  const flippedRows = await p.$$eval('#history-table tbody tr.flipped', (rs) => rs.map((r) => r.getAttribute('data-verdict')));
  assert.ok(flippedRows.length > 0 && flippedRows.every((v) => v === 'normal'), 'flipped rows are highlighted');
  await p.screenshot({ path: join(shots, 'history-slider.png'), fullPage: true });
  await p.keyboard.press('End');
  assert.equal(await flips(), scores.length - normals, 'all the way up: every anomalous becomes normal');

  // A typed value between two scores, then Apply: the server's threshold follows.
  const sorted = scores.map((s) => s[1]).sort((a, b) => a - b);
  const mid = (sorted[1]! + sorted[2]!) / 2;
  await p.fill('#thr-value', String(mid));
  const expectFlips = scores.filter((s) => (s[1] >= mid ? 'anomalous' : 'normal') !== s[2]).length;
  assert.equal(await flips(), expectFlips);
  await p.click('#thr-apply');
  await p.waitForFunction((v) => (globalThis as any).document.querySelector('#thr-current')?.textContent === v, mid.toFixed(4));
  const m = await api('/v1/models/woven');
  assert.ok(Math.abs(m.threshold.value - mid) < 1e-9 * Math.abs(mid));
  assert.equal(m.threshold.overriddenBy, 'web UI');
  assert.equal(Number(await p.inputValue('#thr-value')), +mid.toPrecision(6), 'after applying, the slider sits at the new threshold');
  assert.equal(await flips(), expectFlips, 'stored verdicts keep the threshold they were made with');
  await p.click('#thr-reset');
  await p.waitForFunction(() => !(globalThis as any).document.querySelector('#thr-override')?.textContent);
  assert.equal((await api('/v1/models/woven')).threshold.value, trained);

  // Relabel one item in its detail view.
  const firstId = Number(await p.getAttribute('#history-table tbody tr >> nth=0', 'data-id'));
  await p.click('#history-table tbody tr >> nth=0');
  await p.waitForSelector('#detail[open] .detail-body img.layer');
  await p.waitForFunction(() => [...(globalThis as any).document.querySelectorAll('#detail img')].every((i: any) => i.naturalWidth > 0));
  await p.screenshot({ path: join(shots, 'history-detail.png') });
  await p.click('#detail button[data-label="NG"]');
  await p.waitForSelector('#detail button[data-label="NG"][aria-pressed="true"]');
  assert.equal((await api(`/v1/inspections/${firstId}`)).label, 'NG');
  await p.click('#detail .close-row button');
  await p.waitForSelector(`#history-table tbody tr[data-id="${firstId}"] td.label .tag.NG`);
  const audit = (await api('/v1/audit?model=woven&limit=1')).items[0];
  assert.deepEqual([audit.action, audit.inspectionId, audit.newValue, audit.actor], ['label', firstId, 'NG', 'web UI']);

  // Filters: label NG shows just that row.
  await p.selectOption('#f-label', 'NG');
  await p.click('#filters button[type="submit"]');
  await p.waitForFunction(() => (globalThis as any).document.querySelectorAll('#history-table tbody tr').length === 1);

  // CSV export of the filtered history.
  const [download] = await Promise.all([p.waitForEvent('download'), p.click('#export')]);
  assert.match(download.suggestedFilename(), /^vigil-history-\d{4}-\d\d-\d\d\.csv$/);
  const rows = parseCsv(readFileSync((await download.path())!, 'utf8'));
  assert.deepEqual(rows.map((r) => [Number(r.id), r.label]), [[firstId, 'NG']]);
  await p.selectOption('#f-label', '');
  await p.click('#filters button[type="submit"]');
  const [all] = await Promise.all([p.waitForEvent('download'), p.click('#export')]);
  assert.equal(parseCsv(readFileSync((await all.path())!, 'utf8')).length, (await api('/v1/inspections')).total);
  assert.deepEqual(pageErrors(p), []);
  t.diagnostic(`screenshots: ${join(shots, 'history-slider.png')}, ${join(shots, 'history-detail.png')}`);
  await p.close();
});

test('models: training metrics and the run\'s report.html', async (t) => {
  const p = await page();
  await p.goto(`${srv.url}/`);
  await p.click('#tab-models');
  await p.waitForSelector('.model[data-model="woven"]');
  const metrics = JSON.parse(readFileSync(join(fx.run, 'metrics.json'), 'utf8'));
  assert.match(await p.textContent('.model') ?? '', new RegExp(`image AUROC${(metrics.image.auroc * 100).toFixed(1)} %`));
  await p.screenshot({ path: join(shots, 'models.png') });
  await p.click('.model button');
  const frame = await (await p.waitForSelector('#report:not([hidden])')).contentFrame();
  await frame!.waitForSelector('h1');
  assert.match(await frame!.textContent('h1') ?? '', /pixelstats/);
  await p.screenshot({ path: join(shots, 'report.png') });
  assert.deepEqual(pageErrors(p), []);
  t.diagnostic(`screenshots: ${join(shots, 'models.png')}, ${join(shots, 'report.png')}`);
  await p.close();
});

test('a server with a token: the UI asks for it once, then works', async () => {
  const token = 'ui-token-0123456789abcdef';
  const s = await serve({ models: [{ name: 'woven', dir: fx.run }], port: 0, token, history: join(dir, 'history-token'), workers: 1, threads: 1, onLog: () => undefined });
  try {
    const p = await page();
    await p.goto(`${s.url}/`);
    await p.waitForSelector('#token-dialog[open]');
    await p.fill('#token', token);
    await p.click('#token-form button[type="submit"]');
    await p.waitForSelector('#model option[value="woven"]', { state: 'attached' });
    await p.setInputFiles('#files', [fx.good[0]!]);
    await p.waitForSelector('.card');
    await p.click('#tab-history');
    await p.waitForFunction(() => [...(globalThis as any).document.querySelectorAll('#history-table tbody img')].some((i: any) => i.naturalWidth > 0));
    // 401s while the dialog was open are expected console noise; no script errors.
    assert.deepEqual(pageErrors(p).filter((e) => !/401/.test(e)), []);
    await p.close();
  } finally {
    await s.close();
  }
});
