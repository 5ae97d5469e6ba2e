// report.html in a real browser (Debian's chromium, driven headless by playwright-core): no script
// errors, the verdict sections and the table agree with metrics.json, sorting, zoom and the
// histogram's log scale work. A full-page screenshot is left at $VIGIL_REPORT_SCREENSHOT (default
// <tmp>/vigil-report.png) for a person to look at.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { parseCsv, vigil } from '../cli/helpers.js';

const CHROMIUM = process.env.VIGIL_CHROMIUM ?? '/usr/bin/chromium';
let dir: string;
let out: string;
let browser: Browser;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (scripts/setup.sh does with VIGIL_SETUP_TEST=1) or set VIGIL_CHROMIUM`);
  dir = mkdtempSync(join(tmpdir(), 'vigil-report-'));
  const g = vigil(['datasets', 'synth', join(dir, 'synth'), '--categories', 'object', '--size', '64', '--train', '20', '--test-good', '8', '--test-defect', '3']);
  assert.equal(g.code, 0, g.stderr);
  const run = join(dir, 'run');
  const r = vigil(['train', '--method', 'pixelstats', '--data', `synth:${join(dir, 'synth', 'object')}`, '--out', run, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  // A threshold at the median score: false rejects and misses to show.
  const scores = parseCsv(readFileSync(join(run, 'scores.csv'), 'utf8')).map((x) => Number(x.score)).sort((a, b) => a - b);
  out = join(dir, 'median');
  const t = vigil(['test', run, '--threshold', String(scores[Math.floor(scores.length / 2)]), '--out', out, '--quiet']);
  assert.equal(t.code, 0, t.stderr);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});
after(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the report renders without errors; sections, table, sorting, zoom and log scale work', async () => {
  const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
  assert.ok(m.confusion.fp > 0 && m.confusion.fn > 0, 'the median threshold gives both kinds of error');
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(msg.text()); });
  const requests: string[] = [];
  page.on('request', (r) => { if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) requests.push(r.url()); });
  await page.goto(`file://${join(out, 'report.html')}`);
  assert.deepEqual(errors, []);
  assert.deepEqual(requests, [], 'self-contained: nothing fetched');

  assert.match(await page.locator('#false-rejects').innerText(), new RegExp(`False rejects: good parts judged NG — ${m.confusion.fp}`));
  // Images between a section's heading and the next one.
  const sectionImages = (id: string, next: string): Promise<number> =>
    page.locator(`xpath=//h2[@id="${id}"]/following-sibling::*[following-sibling::h2[@id="${next}"]]//img`).count();
  assert.equal(await sectionImages('false-rejects', 'misses'), m.confusion.fp);
  assert.equal(await sectionImages('misses', 'types'), m.confusion.fn);

  const rows = page.locator('#all tbody tr');
  assert.equal(await rows.count(), m.counts.test);
  assert.equal(await page.locator('#all tbody tr.wrong').count(), m.confusion.fp + m.confusion.fn);
  const scoreCol = async (): Promise<number[]> => (await page.locator('#all tbody tr td:nth-child(5)').evaluateAll((tds) => tds.map((td) => td.getAttribute('data-v')))).map(Number);
  await page.click('#all th:nth-child(5)');
  const asc = await scoreCol();
  assert.deepEqual(asc, [...asc].sort((a, b) => a - b), 'ascending after one click');
  await page.click('#all th:nth-child(5)');
  const desc = await scoreCol();
  assert.deepEqual(desc, [...asc].reverse(), 'descending after two');

  assert.equal(await page.locator('#zoom').isVisible(), false);
  const first = page.locator('img.zoomable').first();
  await first.click();
  assert.equal(await page.locator('#zoom').isVisible(), true, 'click zooms');
  assert.equal(await page.locator('#zoom img').getAttribute('src'), await first.getAttribute('src'));
  await page.locator('#zoom').click();
  assert.equal(await page.locator('#zoom').isVisible(), false, 'click closes');

  await page.click('button[data-scale="log"]');
  assert.equal(await page.locator('figure.hist-log').isVisible(), true);
  assert.equal(await page.locator('figure.hist-lin').isVisible(), false);
  await page.click('button[data-scale="lin"]');
  assert.equal(await page.locator('figure.hist-lin').isVisible(), true);

  const shot = process.env.VIGIL_REPORT_SCREENSHOT ?? join(tmpdir(), 'vigil-report.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);
  await page.close();
});
