// The decoder warm-up in the page (headless Chromium, WebGPU on SwiftShader): an encoder-only file
// in the released official layout (`*_fcmae.pt`, no decoder) loaded on a page whose decoder is
// not the default keeps the page's decoder (2×16) and says so; "Train a decoder for this
// encoder" freezes the encoder and trains: steps run and a loss is shown; the Training panel
// shows the encoder frozen; the weights downloaded afterwards hold the file's encoder tensors
// byte for byte (while the decoder moved), and the setting is stored in the file.
import { mkdirSync, readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import type { ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromCanonical } from '../../src/io/name-schemes.ts';
import { readNativeCheckpoint } from '../../src/io/native-checkpoint.ts';
import { writeTorchCheckpoint } from '../../src/io/pytorch.ts';
import { customConfig } from '../../src/model/config.ts';
import { initialParams, isEncoderParam, paramTable } from '../../src/model/parameters.ts';
import { stateDictFromFlat } from '../../src/model/state-dict.ts';
import { Random } from '../../src/util/random.ts';
import { launchChromium, startDevServer } from '../helpers/browser.ts';

const OUT = new URL('../../test-results/ui/', import.meta.url).pathname;
/** The tiny model of the playground test, with a 2-block decoder (not the 1×512 default). */
const TINY = 'depths=1,1,1,1&dims=8,16,24,32&dec_dim=16&dec_depth=2&img=64&bs=2&steps=400&warmup=2&blr=0.01&mask=0.5&view_mask=0.5';

const table = paramTable(customConfig([1, 1, 1, 1], [8, 16, 24, 32], 16, 2));
const encoder = new Map([...stateDictFromFlat(table, initialParams(table, new Random(77)))].filter(([name]) => isEncoderParam(name)));
const encoderFile = writeTorchCheckpoint(fromCanonical(encoder, 'official-dense').tensors);

let server: ViteDevServer;
let url: string;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 180_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const stepCount = async () => Number(((await page.getByTestId('step-counter').textContent()) ?? '').split('/')[0]!.trim());

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

describe('decoder warm-up in the page', () => {
  it('loads an encoder-only file keeping the page decoder, trains a decoder with the encoder frozen', async () => {
    await page.getByTestId('gpu-ok').waitFor({ timeout: 60_000 });
    await page.getByTestId('recon-grid').waitFor({ timeout: 180_000 });
    await page.getByTestId('checkpoint-input').setInputFiles({ name: 'convnextv2_custom_1k_224_fcmae.pt', mimeType: 'application/octet-stream', buffer: Buffer.from(encoderFile) });
    const report = page.getByTestId('checkpoint-report');
    await waitFor('the checkpoint report', async () => /Loaded convnextv2_custom_1k_224_fcmae\.pt at step 0/.test((await report.textContent()) ?? ''));
    expect(await report.textContent()).toMatch(/no decoder in convnextv2_custom_1k_224_fcmae\.pt: the page's decoder \(2×16\) is kept/);
    // the known bug: the decoder used to become the default 1×512
    expect(await page.getByLabel('Decoder blocks').inputValue()).toBe('2');
    expect(await page.getByLabel('Decoder width').inputValue()).toBe('16');
    const freeze = page.getByLabel('Freeze encoder (decoder warm-up)');
    expect(await freeze.isChecked()).toBe(false);

    await page.getByRole('button', { name: 'Train a decoder for this encoder' }).click();
    await waitFor('3 steps', async () => (await stepCount()) >= 3);
    await waitFor('a loss shown', async () => /^\d+\.\d{4}$/.test(((await page.getByTestId('loss').textContent()) ?? '').trim()));
    expect(await freeze.isChecked()).toBe(true);
    await waitFor('freeze_enc=1 in the URL', async () => /[?&]freeze_enc=1(&|$)/.test(page.url()));
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    await waitFor('paused', async () => /Paused at step \d+/.test((await page.getByTestId('run-status').textContent()) ?? ''));
    mkdirSync(OUT, { recursive: true });
    await page.screenshot({ path: `${OUT}decoder-warm-up.png`, fullPage: true });

    // the weights after training: the encoder as the file had it, byte for byte; the decoder moved
    const downloadPromise = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download Playground (.safetensors)' }).click();
    const file = `${OUT}decoder-warm-up.safetensors`;
    await (await downloadPromise).saveAs(file);
    const saved = readNativeCheckpoint(new Uint8Array(readFileSync(file)), 'decoder-warm-up.safetensors');
    expect(saved.options.freezeEncoder).toBe(true);
    expect(saved.step).toBeGreaterThanOrEqual(3);
    const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    const changed = [...encoder].filter(([name, t]) => Buffer.compare(bytes(saved.params.get(name)!.data as Float32Array), bytes(t.data as Float32Array)) !== 0).map(([n]) => n);
    expect(changed, 'encoder tensors changed by the warm-up').toEqual([]);
    expect((saved.adamw!.m.get('pred.weight')!.data as Float32Array).some((x) => x !== 0), 'the decoder trained').toBe(true);

    // and it can be turned off again (a rebuild that keeps the run)
    await freeze.uncheck();
    await waitFor('freeze_enc=0 in the URL', async () => /[?&]freeze_enc=0(&|$)/.test(page.url()));
    expect(pageErrors).toEqual([]);
  }, 600_000);
});
