// The playground in headless Chromium (WebGPU on SwiftShader), driven as a person would: it
// opens alive on the demo photos, turning GRN off and on changes the live parameter count,
// Start trains a tiny model (set through the URL) and the step counter and loss curve
// advance, reconstructions are drawn, the reconstruction mask-ratio slider changes the
// masked input, a checkpoint saved and loaded back gives the same
// reconstruction, a dropped folder replaces the dataset, a two-ratio sweep shows two curves,
// and a reload restores the settings from the URL. Screenshots go to test-results/ (and two
// to docs/ when UPDATE_DOCS_SCREENSHOTS=1).
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { ViteDevServer } from 'vite';
import { launchChromium, startDevServer } from '../helpers/browser.ts';

const OUT = new URL('../../test-results/ui/', import.meta.url).pathname;
const DOCS = new URL('../../docs/', import.meta.url).pathname;

/** A model that trains in well under a second per step on SwiftShader: 64 px → 2×2 patches. */
// sweep_eval=none: this test is about the sweep's mechanics (ui-experiments-evaluation.test.ts covers the evaluation)
const TINY = 'depths=1,1,1,1&dims=8,16,24,32&dec_dim=16&dec_depth=1&img=64&bs=2&steps=400&warmup=2&blr=0.01&mask=0.5&view_mask=0.5&sweep=0.25,0.5&sweep_steps=3&sweep_eval=none';

let server: ViteDevServer;
let url: string;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

async function shot(name: string, p: Page = page): Promise<string> {
  mkdirSync(OUT, { recursive: true });
  const path = `${OUT}${name}.png`;
  await p.screenshot({ path, fullPage: true });
  return path;
}

/** Pixel statistics of a canvas: an FNV hash and the fraction of pixels unlike the first. */
async function canvasStats(testId: string, p: Page = page): Promise<{ hash: number; nonBlank: number; width: number }> {
  return p.getByTestId(testId).evaluate((el) => {
    const c = el as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let h = 0x811c9dc5;
    let differ = 0;
    for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i]!, 16777619) >>> 0;
    for (let i = 4; i < d.length; i += 4) if (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2]) differ++;
    return { hash: h, nonBlank: differ / (d.length / 4), width: c.width };
  });
}

async function stepCount(p: Page = page): Promise<number> {
  const text = (await p.getByTestId('step-counter').textContent()) ?? '';
  return Number(text.split('/')[0]!.trim());
}

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  ({ server, url } = await startDevServer());
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${url}?${TINY}`);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('playground UI', () => {
  it('opens alive on the demo photos with reconstructions drawn', async () => {
    await page.getByTestId('gpu-ok').waitFor({ timeout: 60_000 });
    await waitFor('the demo dataset', async () => /Demo photos/.test((await page.getByTestId('dataset-name').textContent().catch(() => '')) ?? ''));
    expect(Number(await page.getByTestId('image-count').textContent())).toBeGreaterThan(50);
    await page.getByTestId('recon-grid').waitFor({ timeout: 120_000 });
    // four panels and the mask for each evaluation image, none blank (at 64 px with 2 of 4
    // patches masked, half of the masked input is the flat mean colour)
    for (const kind of ['original', 'masked', 'reconstruction', 'pasted', 'mask']) {
      const s = await canvasStats(`recon-${kind}-0`);
      expect(s.nonBlank, `${kind} panel`).toBeGreaterThan(0.2);
    }
    // the URL's tiny model is what the page shows
    expect(await page.getByLabel('Input size (px)').inputValue()).toBe('64');
    expect(await page.getByTestId('denorm-note').textContent()).toMatch(/\S/);
    await shot('01-opened');
  });

  it('GRN off lowers the parameter count and FLOPs and disables the statistics choice; on restores them', async () => {
    const count = page.getByTestId('param-count');
    const flops = page.getByTestId('step-flops');
    await count.waitFor({ timeout: 60_000 });
    const before = [await count.textContent(), await flops.textContent()];
    const grn = page.getByLabel('GRN layers');
    const stats = page.getByLabel('GRN statistics');
    expect(await stats.isDisabled()).toBe(false);
    await grn.selectOption('off');
    // the URL's tiny model: 82.1k parameters with GRN, 768 fewer without (2·4C per block)
    await waitFor('the count without GRN', async () => (await count.textContent()) === '81.3k');
    expect(before[0]).toBe('82.1k');
    expect(await flops.textContent()).not.toBe(before[1]);
    expect(await stats.isDisabled()).toBe(true);
    await page.getByText('Unused: the blocks have no GRN layers.').waitFor();
    await waitFor('grn_on=0 in the URL', async () => /[?&]grn_on=0(&|$)/.test(page.url()));
    await grn.selectOption('on');
    await waitFor('the count with GRN', async () => (await count.textContent()) === before[0]);
    expect(await flops.textContent()).toBe(before[1]);
    expect(await stats.isDisabled()).toBe(false);
  });

  it('Start trains: the step counter and the loss curve advance; Pause stops', async () => {
    const before = await stepCount();
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await waitFor('3 steps', async () => (await stepCount()) >= before + 3);
    await waitFor('loss points on the chart', async () => Number(await page.getByTestId('loss-chart').getAttribute('data-points')) >= 3);
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    await waitFor('paused', async () => /Paused at step \d+/.test((await page.getByTestId('run-status').textContent()) ?? ''));
    const status = (await page.getByTestId('run-status').textContent()) ?? '';
    expect(status).toMatch(/Paused at step \d+, loss \d+\.\d{4}\./);
    const paused = await stepCount();
    await page.waitForTimeout(1500);
    expect(await stepCount()).toBe(paused);
    // Step does exactly one more
    await page.getByRole('button', { name: 'Step', exact: true }).click();
    await waitFor('one step', async () => (await stepCount()) === paused + 1);
    await shot('02-trained');
  });

  it('moving the reconstruction mask-ratio slider changes the masked input', async () => {
    const slider = page.getByRole('slider', { name: 'Reconstruction mask ratio' });
    const before = await canvasStats('recon-masked-0');
    const maskBefore = await canvasStats('recon-mask-0');
    await slider.focus();
    await page.keyboard.press('ArrowRight'); // 0.50 → 0.55: still 2 of 4 masked at 64 px
    await page.keyboard.press('ArrowRight'); // 0.60
    await page.keyboard.press('ArrowRight'); // 0.65
    await page.keyboard.press('ArrowRight'); // 0.70
    await page.keyboard.press('ArrowRight'); // 0.75: 3 of 4 patches masked
    await waitFor('a reconstruction at 0.75', async () => (await page.getByTestId('recon-grid').getAttribute('data-mask-ratio')) === '0.75');
    const after = await canvasStats('recon-masked-0');
    expect(after.hash).not.toBe(before.hash);
    expect((await canvasStats('recon-mask-0')).hash).not.toBe(maskBefore.hash);
    expect(await page.getByTestId('recon-caption').textContent()).toMatch(/3 of 4 patches masked/);
    // "New mask" draws another mask at the same ratio (the loss on the new mask may differ)
    const withoutLoss = (c: string | null) => (c ?? '').replace(/loss on masked patches [\d.]+/, 'loss on masked patches …');
    const caption = await page.getByTestId('recon-caption').textContent();
    await page.getByRole('button', { name: 'New mask' }).click();
    await waitFor('the new mask', async () => (await page.getByTestId('mask-seed').textContent()) === 'mask seed 2');
    const newCaption = await page.getByTestId('recon-caption').textContent();
    expect(withoutLoss(newCaption)).toBe(withoutLoss(caption));
    expect(newCaption).toMatch(/3 of 4 patches masked \(ratio 0\.75\); loss on masked patches \d\.\d+/);
    await shot('03-mask-ratio');
  });

  it('a checkpoint saved and loaded back gives the same reconstruction', async () => {
    // trained weights must differ from a reset's; step 1 runs at lr 0 (warmup starts at 0), so
    // when this test runs on its own take two steps
    for (let k = await stepCount(); k < 2; k++) {
      await page.getByRole('button', { name: 'Step', exact: true }).click();
      await waitFor('a step', async () => (await stepCount()) === k + 1 && (await page.getByTestId('recon-grid').getAttribute('data-step')) === String(k + 1));
    }
    const reference = await canvasStats('recon-reconstruction-0');
    const downloadPromise = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download Playground (.safetensors)' }).click();
    const download = await downloadPromise;
    mkdirSync(OUT, { recursive: true });
    const file = `${OUT}checkpoint.safetensors`;
    await download.saveAs(file);
    // a reset re-initialises the weights: the reconstruction changes
    await page.getByRole('button', { name: 'Reset', exact: true }).click();
    await waitFor('step 0', async () => (await stepCount()) === 0);
    await waitFor('a fresh reconstruction', async () => (await page.getByTestId('recon-grid').getAttribute('data-step')) === '0');
    expect((await canvasStats('recon-reconstruction-0')).hash).not.toBe(reference.hash);
    // dropped anywhere on the page (here: on the header)
    const base64 = readFileSync(file).toString('base64');
    await page.locator('header').evaluate((el, b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], 'checkpoint.safetensors'));
      el.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, base64);
    await waitFor('the checkpoint report', async () => /Loaded .* at step \d+/.test((await page.getByTestId('checkpoint-report').textContent()) ?? ''));
    await waitFor('the restored reconstruction', async () => (await canvasStats('recon-reconstruction-0')).hash === reference.hash, 60_000);
  });

  it('dropping a folder of generated images replaces the dataset', async () => {
    await page.getByTestId('drop-zone').evaluate(async (zone) => {
      const dt = new DataTransfer();
      for (let i = 0; i < 6; i++) {
        const c = new OffscreenCanvas(80, 72);
        const g = c.getContext('2d')!;
        g.fillStyle = `hsl(${i * 60}, 70%, 50%)`;
        g.fillRect(0, 0, 80, 72);
        g.fillStyle = '#fff';
        g.fillRect(10 + i * 5, 10, 30, 30);
        const blob = await c.convertToBlob({ type: 'image/png' });
        dt.items.add(new File([blob], `gen-${i}.png`, { type: 'image/png' }));
      }
      dt.items.add(new File(['not an image'], 'notes.txt', { type: 'text/plain' }));
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    await waitFor('the dropped dataset', async () => (await page.getByTestId('image-count').textContent()) === '6');
    expect(await page.getByTestId('dataset-name').textContent()).not.toMatch(/Demo/);
    expect(await page.getByTestId('skipped-count').textContent()).toBe('1');
    await page.getByRole('button', { name: 'show why' }).click();
    expect(await page.getByTestId('skipped-list').textContent()).toMatch(/notes\.txt/);
    await page.getByTestId('recon-grid').waitFor();
    await shot('04-dropped-folder');
    await page.getByRole('button', { name: 'Use demo photos' }).click();
    await waitFor('the demo again', async () => /Demo photos/.test((await page.getByTestId('dataset-name').textContent()) ?? ''));
  });

  it('a two-ratio sweep completes and shows two curves and two reconstructions', async () => {
    await page.getByRole('button', { name: 'Run sweep' }).click();
    await waitFor('the sweep to finish', async () => /Sweep finished: 2 runs/.test((await page.getByTestId('sweep-status').textContent()) ?? ''), 170_000);
    expect(await page.getByTestId('history-table').locator('tbody tr').count()).toBe(2);
    // uPlot draws one legend entry per series: step + 2 runs
    expect(await page.getByTestId('overlay-chart').locator('.u-legend .u-series').count()).toBe(3);
    expect(await page.getByTestId('run-recons').locator('img').count()).toBe(2);
    await page.getByTestId('overlay-chart').scrollIntoViewIfNeeded();
    await shot('05-sweep');
  }, 180_000);

  it('a model change after training asks before starting a new run', async () => {
    expect(await stepCount()).toBeGreaterThan(0);
    const width = page.getByLabel('Decoder width');
    await width.fill('24');
    await width.press('Enter');
    await page.getByTestId('pending-reset').waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('pending-reset').textContent()).toMatch(/decoderDim 16 → 24/);
    const steps = await stepCount();
    await page.getByRole('button', { name: 'Keep the current run' }).click();
    await waitFor('the old width back', async () => (await width.inputValue()) === '16');
    expect(await page.getByTestId('pending-reset').count()).toBe(0);
    expect(await stepCount()).toBe(steps);
  });

  it('reload restores the settings from the URL (and keeps the run history)', async () => {
    const batch = page.getByLabel('Batch size');
    await batch.fill('3');
    await batch.press('Enter');
    await page.getByLabel('Seed').fill('42');
    await page.getByLabel('Seed').press('Enter');
    await waitFor('the URL to carry the settings', async () => /[?&]bs=3(&|$)/.test(page.url()) && /[?&]seed=42(&|$)/.test(page.url()));
    await page.reload();
    await page.getByTestId('gpu-ok').waitFor({ timeout: 60_000 });
    expect(await page.getByLabel('Batch size').inputValue()).toBe('3');
    expect(await page.getByLabel('Seed').inputValue()).toBe('42');
    expect(await page.getByLabel('Input size (px)').inputValue()).toBe('64');
    await waitFor('the stored runs', async () => (await page.getByTestId('history-table').locator('tbody tr').count().catch(() => 0)) === 2);
  });

  it('is readable on a narrow window; main-state screenshots', async () => {
    const narrow = await browser.newPage({ viewport: { width: 420, height: 900 } });
    await narrow.goto(`${url}?${TINY}`);
    await narrow.getByTestId('recon-grid').waitFor({ timeout: 120_000 });
    // nothing wider than the window (no horizontal page scroll)
    const overflow = await narrow.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await shot('06-narrow', narrow);
    await narrow.close();
    if (process.env.UPDATE_DOCS_SCREENSHOTS === '1') {
      mkdirSync(DOCS, { recursive: true });
      copyFileSync(`${OUT}02-trained.png`, `${DOCS}playground.png`);
      copyFileSync(`${OUT}05-sweep.png`, `${DOCS}playground-sweep.png`);
    }
    expect(pageErrors).toEqual([]);
  });
});
