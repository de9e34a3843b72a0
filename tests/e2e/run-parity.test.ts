// The page's first training steps against the CLI's on the same images, seed and settings: the
// worker in Chromium (WebGPU on SwiftShader, the browser's image decoder) and `fcmae train` in
// Node (Dawn, sharp) run one training run (src/train/run.ts). The images are square PNGs already
// at the decode size (73 px for 64-px inputs), so both decoders produce the same pixels and any
// difference would come from the run itself.
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { openWorkerHarness } from '../helpers/browser.ts';
import { runCli } from '../helpers/cli.ts';
import { encodePng } from '../../src/io/png.ts';
import { decodeSizeFor, defaultRunConfig } from '../../src/train/run-config.ts';
import type { TrainingConfig } from '../../src/worker/protocol.ts';
import type { Harness } from './pages/worker-harness.ts';

declare global {
  interface Window {
    harness: Harness;
  }
}

const STEPS = 4;
const CONFIG: TrainingConfig = { ...defaultRunConfig(), depths: [1, 1, 1, 1], dims: [8, 16, 24, 32], decoderDim: 16, decoderDepth: 1, inputSize: 64, batchSize: 2, maskRatio: 0.5, seed: 21, blr: 0.1, warmupSteps: 1, totalSteps: STEPS, evalImages: 2 };
const FLAGS = ['--depths', '1,1,1,1', '--dims', '8,16,24,32', '--decoder-dim', '16', '--decoder-depth', '1', '--input-size', '64', '--batch-size', '2', '--mask-ratio', '0.5', '--seed', '21', '--blr', '0.1', '--warmup', '1', '--steps', String(STEPS), '--eval-images', '2'];

const side = decodeSizeFor(CONFIG.inputSize);
const images = Array.from({ length: 5 }, (_, k) => {
  const data = new Uint8ClampedArray(side * side * 4);
  for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) {
    const o = (y * side + x) * 4;
    data[o] = (x * (k + 3) + y * 2) % 256;
    data[o + 1] = 128 + 100 * Math.sin((x + k * 7) / 9);
    data[o + 2] = (y * (k + 1) * 3) % 256;
    data[o + 3] = 255;
  }
  return { name: `img-${k}.png`, bytes: encodePng({ width: side, height: side, data }) };
});

let harness: Awaited<ReturnType<typeof openWorkerHarness>> | null = null;
let page: Page;

beforeAll(async () => {
  harness = await openWorkerHarness();
  page = harness.page;
}, 300_000);

afterAll(async () => {
  await harness?.close();
});

describe('the page and the CLI run one training run', () => {
  it('the first steps give the same losses', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fcmae-page-parity-'));
    mkdirSync(join(dir, 'imgs'));
    for (const im of images) writeFileSync(join(dir, 'imgs', im.name), im.bytes);
    const r = runCli(['train', '--data', join(dir, 'imgs'), ...FLAGS, '--out', join(dir, 'run')]);
    expect(r.code, r.stderr).toBe(0);
    const cli = readFileSync(join(dir, 'run', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { loss: number }).loss);

    const files = images.map((im) => ({ path: `imgs/${im.name}`, data: Buffer.from(im.bytes).toString('base64') }));
    const page_ = await page.evaluate(
      async ({ files, config, steps }) => {
        const h = window.harness;
        const c = h.client;
        const loaded = await c.loadFiles({ name: 'imgs', files: files.map((f) => ({ path: f.path, file: new Blob([h.fromBase64(f.data)]) })), unreadable: [] }, { verify: true });
        await c.setConfig(config, { allowReset: true });
        const losses: number[] = [];
        for (let k = 0; k < steps; k++) losses.push((await c.step()).loss);
        return { images: loaded.images, losses };
      },
      { files, config: CONFIG, steps: STEPS },
    );
    expect(page_.images).toBe(images.length);
    const report = `page ${page_.losses.join(', ')}\ncli  ${cli.join(', ')}`;
    expect(cli, report).toHaveLength(STEPS);
    expect(new Set(cli).size, report).toBe(STEPS); // a trajectory, not a constant
    const rel = page_.losses.map((l, i) => Math.abs(l - cli[i]!) / Math.abs(cli[i]!));
    console.log(`page vs CLI, per step: ${rel.map((x) => x.toExponential(2)).join(', ')} (relative)`);
    expect(page_.losses.map((l) => Math.fround(l)), report).toEqual(cli.map((l) => Math.fround(l)));
  }, 600_000);
});
