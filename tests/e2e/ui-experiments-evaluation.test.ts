// Experiments judged by the encoder, in headless Chromium (WebGPU on SwiftShader), on a tiny
// model and a tiny labelled folder (3 texture classes × 8 images, ImageFolder layout): the folder
// is dropped onto the page as a person drops it (an OS-level drag of the directory through the
// DevTools protocol, tests/helpers/page-checks.ts dropDirectory), pretraining with
// "track kNN every 2 steps" draws the kNN curve beside the loss, the kNN probe shows its top-1,
// feature collapse draws its chart, a two-ratio sweep judged by kNN fills the run table's
// accuracy and collapse columns, states a verdict and overlays the runs' collapse curves, sorting works, and the stored results come
// back after a reload (IndexedDB). Screenshots go to test-results/ui-experiments-evaluation/.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { ViteDevServer } from 'vite';
import { launchChromium, startDevServer } from '../helpers/browser.ts';
import { chartNonBlank as chartNonBlankOf, dropDirectory, screenshot, waitFor } from '../helpers/page-checks.ts';
import { writeTextureFolder } from '../helpers/labelled-folder.ts';

const OUT = new URL('../../test-results/ui-experiments-evaluation/', import.meta.url).pathname;
const TINY = 'depths=1,1,1,1&dims=8,16,24,32&dec_dim=16&dec_depth=1&img=64&bs=2&steps=4&warmup=1&blr=0.01&mask=0.5&view_mask=0.5';
const EVAL = 'sweep=0.25,0.5&sweep_steps=2&sweep_eval=knn&knn_every=2&eval_subset=20&eval_data=dataset';

let server: ViteDevServer;
let url: string;
let browser: Browser;
let page: Page;
let tmp: string;
const pageErrors: string[] = [];

const shot = (name: string) => screenshot(page, OUT, name);

const text = async (testId: string) => (await page.getByTestId(testId).first().textContent().catch(() => null)) ?? '';
const button = (name: string) => page.getByRole('button', { name, exact: true });

const chartNonBlank = (testId: string) => chartNonBlankOf(page, testId);

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'fcmae-ui-exp-'));
  await writeTextureFolder(join(tmp, 'textures'), { perClass: 8, size: 64, seed: 3 });
  ({ server, url } = await startDevServer());
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${url}?${TINY}&${EVAL}`);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('experiments judged by the encoder', () => {
  it('a dropped labelled folder becomes the evaluation set', async () => {
    await page.getByTestId('gpu-ok').waitFor({ timeout: 60_000 });
    await waitFor('the demo dataset', async () => /Demo photos/.test(await text('dataset-name')));
    await dropDirectory(page, 'drop-zone', join(tmp, 'textures'));
    await waitFor('the labelled folder', async () => (await text('image-count')) === '24');
    expect(await page.getByLabel("This data set's class folders").isChecked()).toBe(true);
  }, 120_000);

  it('pretraining with kNN tracking every 2 steps draws the kNN curve beside the loss', async () => {
    await button('Start').click();
    await waitFor('the run to finish', async () => /Finished at step 4/.test(await text('run-status')), 150_000);
    await waitFor('two tracked points', async () => /at step 4\./.test(await text('knn-track-status')), 30_000);
    expect(await text('knn-track-status')).toMatch(/^Every 2 steps, kNN \(k 20\) on 3 held-out images of the evaluation subset: \d+\.\d % at step 4\./);
    expect(await page.getByTestId('knn-track-chart').getAttribute('aria-label')).toMatch(/^kNN top-1 at 2 tracked steps: step 2 \d+\.\d %, step 4 \d+\.\d %; random init \d+\.\d %/);
    await waitFor('the kNN curve drawn', async () => (await chartNonBlank('knn-track-chart').catch(() => 0)) > 0.005, 10_000);
  }, 200_000);

  it('the kNN probe shows its top-1 and the collapse analysis draws its chart', async () => {
    await button('kNN probe').click();
    await page.getByTestId('evaluation-result-knn').waitFor({ timeout: 120_000 });
    expect(await text('evaluation-result-knn')).toMatch(/^kNN top-1 \d+\.\d % \(random init \d+\.\d %, chance 33\.3 %\) at step 4; 18 train \/ 6 validation images, the data set's class folders/);
    await waitFor('the buttons back', async () => !(await button('Feature collapse').isDisabled()), 10_000);
    await button('Feature collapse').click();
    await page.getByTestId('evaluation-result-collapse').waitFor({ timeout: 120_000 });
    await waitFor('the collapse chart drawn', async () => (await chartNonBlank('evaluation-collapse-chart').catch(() => 0)) > 0.005, 10_000);
    await shot('01-tracking-probe-collapse');
  }, 250_000);

  it('a two-ratio sweep judged by kNN fills the accuracy and collapse columns and names the winner or says it is noise', async () => {
    expect(await text('sweep-plan')).toBe('2 runs: mask 0.25, mask 0.5.');
    await button('Run sweep').click();
    await waitFor('the sweep to finish', async () => /Sweep finished: 2 runs/.test(await text('sweep-status')), 300_000);
    const table = page.getByTestId('history-table');
    // the pretraining run (recorded when it finished) and the two sweep runs
    expect(await table.locator('tbody tr').count()).toBe(3);
    const accuracy = await table.getByTestId('run-accuracy').allTextContents();
    expect(accuracy.filter((a) => /^kNN \d+\.\d % \(\d+\.\d %\)$/.test(a))).toHaveLength(2);
    const collapse = await table.getByTestId('run-collapse').allTextContents();
    expect(collapse.filter((c) => /^0\.\d{3} \(0\.\d{3}\)$/.test(c))).toHaveLength(2);
    expect(await text('accuracy-verdict')).toMatch(/^(mask 0\.(25|5) won on kNN top-1: .* more than one standard error|No clear winner on kNN top-1: .* within one standard error) \(\d+\.\d pp at 3 validation images\)/);
    // the compared runs' collapse curves overlaid: the x series, two runs, random init
    expect(await page.getByTestId('collapse-overlay-chart').locator('.u-legend .u-series').count()).toBe(4);
    // sorting by accuracy puts the measured runs first, best first
    await page.getByTestId('sort-accuracy').click();
    expect(await table.locator('th[aria-sort="descending"]').count()).toBe(1);
    const sorted = await table.getByTestId('run-accuracy').allTextContents();
    const values = sorted.slice(0, 2).map((a) => Number(/kNN (\d+\.\d) %/.exec(a)![1]));
    expect(values[0]).toBeGreaterThanOrEqual(values[1]!);
    expect(sorted[2]).toBe('—');
    await page.getByTestId('history-table').scrollIntoViewIfNeeded();
    await shot('02-sweep-judged');
  }, 320_000);

  it('the results are stored with the runs: a reload shows them again', async () => {
    await page.reload();
    await page.getByTestId('gpu-ok').waitFor({ timeout: 60_000 });
    await waitFor('the stored runs', async () => (await page.getByTestId('history-table').locator('tbody tr').count().catch(() => 0)) === 3, 60_000);
    const accuracy = await page.getByTestId('run-accuracy').allTextContents();
    expect(accuracy.filter((a) => /^kNN \d+\.\d % \(\d+\.\d %\)$/.test(a))).toHaveLength(2);
    // the evaluation settings come back from the URL
    expect(await page.getByLabel('Track kNN every N steps').inputValue()).toBe('2');
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
