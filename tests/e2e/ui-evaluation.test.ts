// The Evaluation panel in headless Chromium (WebGPU on SwiftShader), driven as a person would,
// on a tiny model set through the URL: a kNN probe on the labelled demo set shows its top-1
// beside the random-init baseline and chance; the feature-collapse curve is drawn; a short
// fine-tune (settings shrunk through the page's store) shows both encoders' curves and the
// confusion matrix; a fine-tune started at the panel's own settings and cancelled says
// "cancelled", keeps the earlier results, and leaves the page working (another measurement runs);
// the activation grid of a chosen block and image is drawn for both encoders.
// Screenshots go to test-results/ui-evaluation/.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { ViteDevServer } from 'vite';
import { launchChromium, startDevServer } from '../helpers/browser.ts';
import { chartNonBlank as chartNonBlankOf, screenshot, waitFor } from '../helpers/page-checks.ts';

const OUT = new URL('../../test-results/ui-evaluation/', import.meta.url).pathname;

/** The playground test's tiny model: 64 px images, four one-block stages. */
const TINY = 'depths=1,1,1,1&dims=8,16,24,32&dec_dim=16&dec_depth=1&img=64&bs=2&steps=400&warmup=2&blr=0.01&mask=0.5&view_mask=0.5';

let server: ViteDevServer;
let url: string;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

const shot = (name: string) => screenshot(page, OUT, name);

const text = async (testId: string) => (await page.getByTestId(testId).textContent().catch(() => null)) ?? '';
const button = (name: string) => page.getByRole('button', { name, exact: true });

const chartNonBlank = (testId: string) => chartNonBlankOf(page, testId);

/** Replace the evaluation settings in the page's own store (Vite serves the module the app imports). */
async function setEvaluationSettings(settings: { finetune: { totalSteps: number; batchSize: number; evalEvery: number }; collapseImages: number }): Promise<void> {
  // a string, so that vitest does not rewrite the browser's dynamic import
  await page.evaluate(`import('/src/store/store.ts').then((m) => m.useAppStore.getState().setEvaluationSettings(${JSON.stringify(settings)}))`);
}

/** Evaluations run one at a time: every button is disabled while one runs. */
async function allButtonsDisabled(): Promise<boolean> {
  for (const name of ['kNN probe', 'Linear probe', 'Fine-tune', 'Feature collapse', 'Activation grid']) if (!(await button(name).isDisabled())) return false;
  return true;
}

beforeAll(async () => {
  ({ server, url } = await startDevServer());
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${url}?${TINY}`);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('evaluation panel', () => {
  it('opens with the demo photos; the folder choice is disabled with its reason', async () => {
    await page.getByTestId('gpu-ok').waitFor({ timeout: 60_000 });
    await waitFor('the demo dataset', async () => /Demo photos/.test(await text('dataset-name')));
    await page.getByTestId('recon-grid').waitFor({ timeout: 120_000 });
    // the demo photos are unlabelled: only the Fashion demo set can be chosen
    expect(await page.getByLabel('Labelled demo set (Fashion-MNIST, 1000 images)').isChecked()).toBe(true);
    expect(await page.getByLabel("This data set's class folders").isDisabled()).toBe(true);
    expect(await text('evaluation-dataset-reason')).toMatch(/at least 2/);
    expect(await text('evaluation-settings')).toMatch(/fine-tune 60 steps of 16/);
  });

  it('kNN probe on the labelled demo set shows top-1 beside random init and chance', async () => {
    await button('kNN probe').click();
    await page.getByTestId('evaluation-progress').waitFor({ timeout: 30_000 });
    expect(await allButtonsDisabled()).toBe(true);
    await page.getByTestId('evaluation-result-knn').waitFor({ timeout: 120_000 });
    const line = await text('evaluation-result-knn');
    expect(line).toMatch(/^kNN top-1 \d+\.\d % \(random init \d+\.\d %, chance 10\.0 %\) at step 0; 800 train \/ 200 validation images/);
    const top1 = Number(/top-1 (\d+\.\d) %/.exec(line)![1]);
    expect(top1).toBeGreaterThan(10); // frozen random conv features beat chance on Fashion-MNIST
    await waitFor('the buttons back', async () => !(await button('kNN probe').isDisabled()), 10_000);
    expect(await page.getByTestId('evaluation-progress').count()).toBe(0);
  }, 150_000);

  it('Feature collapse draws the curve per block (current and random init)', async () => {
    await button('Feature collapse').click();
    await page.getByTestId('evaluation-result-collapse').waitFor({ timeout: 120_000 });
    expect(await text('evaluation-result-collapse')).toMatch(/^Feature collapse: mean distance 0\.\d{3} \(random init 0\.\d{3}\) over 4 blocks, 16 images, at step 0/);
    await waitFor('the collapse chart drawn', async () => (await chartNonBlank('evaluation-collapse-chart').catch(() => 0)) > 0.005, 10_000);
    // uPlot's legend: the x series, the current encoder, random init
    expect(await page.getByTestId('evaluation-collapse-chart').locator('.u-legend .u-series').count()).toBe(3);
    await page.getByTestId('evaluation-collapse-chart').scrollIntoViewIfNeeded();
    await shot('01-knn-collapse');
  }, 150_000);

  it('a short fine-tune shows its val top-1 beside random init, its curves and the confusion matrix', async () => {
    await setEvaluationSettings({ finetune: { totalSteps: 4, batchSize: 8, evalEvery: 2 }, collapseImages: 16 });
    await waitFor('the settings shown', async () => /fine-tune 4 steps of 8/.test(await text('evaluation-settings')), 5_000);
    await button('Fine-tune').click();
    await waitFor('the baseline fine-tune', async () => /Fine-tune 2 of 2/.test(await text('evaluation-running')), 120_000);
    // the current encoder's result is shown while the baseline runs
    expect(await text('evaluation-result-finetune')).toMatch(/random init not run/);
    await waitFor('the finished fine-tune', async () => /\(random init \d+\.\d %/.test(await text('evaluation-result-finetune')), 120_000);
    expect(await text('evaluation-result-finetune')).toMatch(/^Fine-tune val top-1 \d+\.\d % \(random init \d+\.\d %, chance 10\.0 %\) at step 0; 4 steps of 8 at 64 px, 800 train \/ 200 validation images/);
    // two losses and two accuracy series (current, random init) after the x series
    expect(await page.getByTestId('evaluation-finetune-chart').locator('.u-legend .u-series').count()).toBe(5);
    await waitFor('the fine-tune chart drawn', async () => (await chartNonBlank('evaluation-finetune-chart').catch(() => 0)) > 0.005, 10_000);
    const confusion = page.getByTestId('evaluation-confusion');
    expect(await confusion.locator('tbody tr').count()).toBe(10);
    expect(await confusion.locator('tbody tr').first().locator('td').count()).toBe(10);
    // every validation image is counted once
    const cells = await confusion.locator('tbody td').allTextContents();
    expect(cells.map(Number).reduce((a, b) => a + b, 0)).toBe(200);
    await page.getByTestId('evaluation-finetune-chart').scrollIntoViewIfNeeded();
    await shot('02-finetune');
  }, 240_000);

  it('Fine-tune can be cancelled: "cancelled", earlier results kept, the page still works', async () => {
    await setEvaluationSettings({ finetune: { totalSteps: 60, batchSize: 16, evalEvery: 20 }, collapseImages: 16 });
    const knnBefore = await text('evaluation-result-knn');
    const finetuneBefore = await text('evaluation-result-finetune');
    await button('Fine-tune').click();
    await page.getByTestId('evaluation-cancel').waitFor({ timeout: 30_000 });
    // let it reach its training steps before cancelling
    await waitFor('fine-tuning steps', async () => /1 of 2.*training \d+ \/ 60/.test(await text('evaluation-running')), 90_000);
    expect(await allButtonsDisabled()).toBe(true);
    await page.getByTestId('evaluation-cancel').click();
    await waitFor('"cancelled"', async () => /cancelled/.test(await text('evaluation-status')), 60_000);
    expect(await text('evaluation-result-finetune')).toBe(finetuneBefore);
    expect(await text('evaluation-result-knn')).toBe(knnBefore);
    expect(await page.getByTestId('evaluation-result-collapse').count()).toBe(1);
    expect(await page.getByTestId('evaluation-error').count()).toBe(0);
    await shot('03-cancelled');
    // the page still works: the buttons are back and another measurement runs
    await waitFor('the buttons back', async () => !(await button('Feature collapse').isDisabled()), 10_000);
    await button('Feature collapse').click();
    await waitFor('a second collapse result', async () => (await page.getByTestId('evaluation-history').locator('li').count()) === 4, 120_000);
    expect(await text('evaluation-result-collapse')).toMatch(/^Feature collapse: mean distance 0\.\d{3}/);
    expect(await text('evaluation-status')).toBe('');
    expect(pageErrors).toEqual([]);
  }, 240_000);

  it('Activation grid: the chosen block and image, 8 × 8 maps drawn for the current encoder and random init', async () => {
    await page.getByTestId('activation-grid-block').selectOption('1.0');
    await page.getByTestId('activation-grid-image').fill('5');
    await button('Activation grid').click();
    await page.getByTestId('evaluation-result-grid').waitFor({ timeout: 120_000 });
    // 64 px input: stage 1 has 8 × 8 sites and 4 · 16 = 64 channels
    expect(await text('evaluation-result-grid')).toMatch(/^Activation grid: stage 1 block 0, image 5 of 1000 \(.+\), the first 64 of 64 channels \(8×8 sites\), each scaled to \[0, 1\], at step \d+, random init beside/);
    for (const id of ['activation-grid-current', 'activation-grid-random']) {
      const canvas = page.getByTestId(id);
      // 8 panels of 8 sites × 6 (≥ 48 px) and gaps of 2
      expect(await canvas.evaluate((c) => [(c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height])).toEqual([8 * 48 + 9 * 2, 8 * 48 + 9 * 2]);
      // grey levels inside the panels: not blank, not one flat tone
      const levels = await canvas.evaluate((el) => {
        const c = el as HTMLCanvasElement;
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        const seen = new Set<number>();
        for (let i = 0; i < d.length; i += 4) seen.add(d[i]!);
        return seen.size;
      });
      expect(levels, id).toBeGreaterThan(16);
    }
    await page.getByTestId('activation-grid-current').scrollIntoViewIfNeeded();
    await shot('04-activation-grid');
    expect(pageErrors).toEqual([]);
  }, 180_000);
});
