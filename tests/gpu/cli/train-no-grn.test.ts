// `--grn off` through the CLI: `train` builds blocks without GRN, says so, writes checkpoints
// whose config keeps grn = false and whose tensors have no grn.*, a resumed run keeps the model
// and repeats the continuing run's losses, and `reconstruct` reads such a checkpoint. A --grn
// that contradicts the file's model is refused with exit 2 naming the file.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNativeCheckpoint, writeNativeCheckpoint } from '../../../src/io/native-checkpoint.ts';
import { customConfig, DEFAULT_STEP_OPTIONS } from '../../../src/model/config.ts';
import { initialParams, paramTable } from '../../../src/model/parameters.ts';
import { stateDictFromFlat } from '../../../src/model/state-dict.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { runCli } from '../../helpers/cli.ts';

const TINY = ['--depths', '1,1,1,1', '--dims', '8,16,24,32', '--decoder-dim', '16', '--decoder-depth', '1', '--input-size', '64'];
const SETTINGS = ['--batch-size', '2', '--steps', '4', '--blr', '0.5', '--warmup', '1', '--seed', '3', '--eval-images', '2', '--log-every', '1'];

let root = '';
let data = '';
let runA = '';
let runAResult: ReturnType<typeof runCli>;

const readLosses = (dir: string): number[] =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { loss: number }).loss);
const checkpointAt = (dir: string, step: number) => readNativeCheckpoint(new Uint8Array(readFileSync(join(dir, `checkpoint-${String(step).padStart(6, '0')}.safetensors`))));

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'fcmae-no-grn-'));
  data = join(root, 'data');
  mkdirSync(data, { recursive: true });
  // four colour ramps, 80×80 px
  for (let i = 0; i < 4; i++) {
    const px = Buffer.alloc(80 * 80 * 3);
    for (let y = 0; y < 80; y++) for (let x = 0; x < 80; x++) for (let c = 0; c < 3; c++) px[(y * 80 + x) * 3 + c] = (40 * i + 2 * y + (c === i % 3 ? x : 0)) % 256;
    writeFileSync(join(data, `ramp${i}.png`), await sharp(px, { raw: { width: 80, height: 80, channels: 3 } }).png().toBuffer());
  }
  runA = join(root, 'runA');
  runAResult = runCli(['train', '--data', data, ...TINY, ...SETTINGS, '--grn', 'off', '--checkpoint-every', '2', '--out', runA]);
}, 300_000);

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('fcmae train --grn off', () => {
  it('trains blocks without GRN and keeps grn = false in its checkpoints', () => {
    expect(runAResult.code, runAResult.stderr).toBe(0);
    expect(runAResult.stdout).toMatch(/^model: custom \(depths 1,1,1,1, dims 8,16,24,32, decoder 1×16, no GRN\), [\d,]+ parameters/m);
    const count = paramTable(customConfig([1, 1, 1, 1], [8, 16, 24, 32], 16, 1, false)).count;
    expect(runAResult.stdout).toContain(`${count.toLocaleString('en')} parameters`);
    expect(readLosses(runA).every((l) => Number.isFinite(l) && l > 0)).toBe(true);
    for (const step of [2, 4]) {
      const c = checkpointAt(runA, step);
      expect(c.config.grn, `step ${step}`).toBe(false);
      expect([...c.params.keys()].filter((n) => n.includes('.grn.'))).toEqual([]);
      expect(c.params.size).toBe(paramTable(c.config).specs.length);
    }
  });

  it('resuming keeps the model without GRN and repeats the continuing run', () => {
    expect(runAResult.code, runAResult.stderr).toBe(0);
    const runB = join(root, 'runB');
    const r = runCli(['train', '--data', data, '--resume', join(runA, 'checkpoint-000002.safetensors'), '--out', runB, '--log-every', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/no GRN\)/);
    // same weights, moments, batches, masks and kernels: identical up to f32 rounding noise
    expectAllClose(readLosses(runB), readLosses(runA).slice(2), { atol: 0, rtol: 1e-6, label: 'losses of steps 3-4' });
    const b = checkpointAt(runB, 4);
    expect(b.config.grn).toBe(false);
    expect(b.settingsHash).toBe(checkpointAt(runA, 4).settingsHash);
    // --grn off on resume agrees with the file and is accepted (it fails only later, at the finished run)
    const again = runCli(['train', '--data', data, '--resume', join(runA, 'checkpoint-000004.safetensors'), '--grn', 'off', '--out', join(root, 'runC')]);
    expect(again.stderr.trim().split('\n').pop()).toMatch(/--steps 4: checkpoint-000004\.safetensors is already at step 4/);
  });

  it('reconstruct reads a checkpoint without GRN', () => {
    expect(runAResult.code, runAResult.stderr).toBe(0);
    const out = join(root, 'recon.png');
    const r = runCli(['reconstruct', '--checkpoint', join(runA, 'checkpoint-000004.safetensors'), '--images', data, '--out', out, '--count', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/checkpoint-000004\.safetensors: canonical names, custom \(depths 1,1,1,1, dims 8,16,24,32, decoder 1×16, no GRN\): \d+ tensors loaded/);
    expect(r.stdout).toMatch(/^loss \d/m);
  });

  it('a --grn that contradicts the file is refused naming it', () => {
    expect(runAResult.code, runAResult.stderr).toBe(0);
    const config = customConfig([1, 1, 1, 1], [8, 16, 24, 32], 16, 1);
    const table = paramTable(config);
    const withGrn = join(root, 'with-grn.safetensors');
    writeFileSync(
      withGrn,
      writeNativeCheckpoint({
        config,
        options: DEFAULT_STEP_OPTIONS,
        training: { inputSize: 64, batchSize: 2, maskRatio: 0.6, visiblePatches: 1, blr: 1.5e-4, warmupSteps: 1, totalSteps: 4, seed: 0 },
        step: 0,
        data: { source: data, imageCount: 4 },
        params: stateDictFromFlat(table, initialParams(table, new Random(1))),
      }),
    );
    const cases: [string[], RegExp][] = [
      [['train', '--data', data, '--resume', join(runA, 'checkpoint-000002.safetensors'), '--grn', 'per-sample', '--out', join(root, 'bad1')], /^fcmae train: --grn per-sample: checkpoint-000002\.safetensors's blocks have no GRN/],
      [['train', '--data', data, '--resume', withGrn, '--grn', 'off', '--out', join(root, 'bad2')], /^fcmae train: --grn off: with-grn\.safetensors's blocks have GRN/],
      [['reconstruct', '--checkpoint', withGrn, '--images', data, '--out', join(root, 'bad.png'), '--grn', 'off'], /--grn off: with-grn\.safetensors's blocks have GRN/],
    ];
    for (const [args, want] of cases) {
      const r = runCli(args);
      expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(2);
      expect(r.stderr.trim().split('\n').pop(), args.join(' ')).toMatch(want);
    }
  });
});
