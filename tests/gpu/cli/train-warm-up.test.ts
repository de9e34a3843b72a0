// `train --checkpoint FILE --freeze-encoder` end to end (decoder warm-up): an encoder-only file in
// the released official layout (`*_fcmae.pt`, no decoder) starts a new run whose decoder is freshly
// initialised (the command says so); the loss falls; every checkpoint's encoder tensors are the
// file's, byte for byte, while the decoder moved; the setting is stored and a resumed run keeps
// it; conflicting flags are refused naming the flag.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromCanonical } from '../../../src/io/name-schemes.ts';
import { readNativeCheckpoint } from '../../../src/io/native-checkpoint.ts';
import { writeTorchCheckpoint } from '../../../src/io/pytorch.ts';
import { customConfig } from '../../../src/model/config.ts';
import { initialParams, isEncoderParam, paramTable } from '../../../src/model/parameters.ts';
import { stateDictFromFlat } from '../../../src/model/state-dict.ts';
import { Random } from '../../../src/util/random.ts';
import { runCli } from '../../helpers/cli.ts';

const config = customConfig([1, 1, 1, 1], [8, 16, 24, 32], 16, 1);
const table = paramTable(config);
const encoder = new Map([...stateDictFromFlat(table, initialParams(table, new Random(21)))].filter(([name]) => isEncoderParam(name)));

let root = '';
let data = '';
let encoderPath = '';

async function writeFolder(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < 6; i++) {
    const w = 70 + 10 * i;
    const h = 64 + 6 * i;
    const px = Buffer.alloc(w * h * 3);
    // vertical ramps: every normalised patch is nearly the same, so a decoder learns it fast
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px.set([40 + (180 * y) / h, (i * 40) % 256, 200 - (150 * y) / h], (y * w + x) * 3);
    writeFileSync(join(dir, `im${i}.png`), await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer());
  }
}

const bytesOf = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'fcmae-warm-up-'));
  data = join(root, 'data');
  await writeFolder(data);
  encoderPath = join(root, 'convnextv2_custom_1k_224_fcmae.pt');
  // the released files: {'model': encoder state dict in the official dense names}
  writeFileSync(encoderPath, writeTorchCheckpoint(fromCanonical(encoder, 'official-dense').tensors));
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('train --checkpoint --freeze-encoder (decoder warm-up)', () => {
  const SETTINGS = ['--input-size', '64', '--batch-size', '2', '--mask-ratio', '0.5', '--blr', '3', '--warmup', '2', '--seed', '4', '--decoder-dim', '16', '--eval-images', '2'];

  it('trains a fresh decoder for an encoder-only file, the encoder bit-identical; resume keeps it frozen', () => {
    const out = join(root, 'run');
    const r = runCli(['train', '--data', data, '--checkpoint', encoderPath, '--freeze-encoder', ...SETTINGS, '--steps', '16', '--checkpoint-every', '8', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('official-dense names');
    expect(r.stderr).toMatch(/convnextv2_custom_1k_224_fcmae\.pt has no decoder: proj, mask token, decoder \(1×16\) and pred are freshly initialised/);
    expect(r.stdout).toMatch(/starting a new run from the weights of .*_fcmae\.pt \(step 0, fresh AdamW\)/);
    expect(r.stdout).toMatch(/encoder frozen \(decoder warm-up\): only proj, mask token, decoder and pred train/);
    const losses = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss: number });
    expect(losses.map((m) => m.step)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    const mean = (a: { loss: number }[]) => a.reduce((s, m) => s + m.loss, 0) / a.length;
    expect(mean(losses.slice(-4)), `loss ${losses.map((m) => m.loss.toFixed(3)).join(' ')}`).toBeLessThan(0.9 * mean(losses.slice(0, 4)));

    for (const step of [8, 16]) {
      const ckpt = readNativeCheckpoint(readFileSync(join(out, `checkpoint-0000${String(step).padStart(2, '0')}.safetensors`)), 'ckpt');
      expect(ckpt.options.freezeEncoder, 'stored setting').toBe(true);
      const changed = [...encoder].filter(([name, t]) => Buffer.compare(bytesOf(ckpt.params.get(name)!.data as Float32Array), bytesOf(t.data as Float32Array)) !== 0).map(([n]) => n);
      expect(changed, `encoder tensors changed by step ${step}`).toEqual([]);
      const m = ckpt.adamw!.m;
      expect([...encoder.keys()].filter((n) => (m.get(n)!.data as Float32Array).some((x) => x !== 0)), 'encoder AdamW moments touched').toEqual([]);
      expect((m.get('pred.weight')!.data as Float32Array).some((x) => x !== 0), 'decoder moments move').toBe(true);
    }

    // resume keeps the frozen setting, and continues where the run stopped
    const resumed = runCli(['train', '--data', data, '--resume', join(out, 'checkpoint-000016.safetensors'), '--steps', '18', '--out', out]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/resuming from .* at step 16/);
    expect(resumed.stdout).toMatch(/encoder frozen \(decoder warm-up\)/);
    const last = readNativeCheckpoint(readFileSync(join(out, 'checkpoint-000018.safetensors')), 'ckpt');
    expect(last.options.freezeEncoder).toBe(true);
    expect([...encoder].filter(([name, t]) => Buffer.compare(bytesOf(last.params.get(name)!.data as Float32Array), bytesOf(t.data as Float32Array)) !== 0).map(([n]) => n)).toEqual([]);
    expect(readdirSync(out).filter((f) => f.startsWith('reconstruction-')).length).toBeGreaterThanOrEqual(3);
  }, 600_000);

  it('refuses flags that contradict the file or each other, naming the flag', () => {
    const cases: [string[], RegExp][] = [
      [['--model', 'atto'], /--model: depths 2,2,6,2 dims 40,80,160,320 .* differs from convnextv2_custom_1k_224_fcmae\.pt's depths 1,1,1,1 dims 8,16,24,32/],
      [['--grn', 'off'], /--grn off: .*blocks have GRN/],
      [['--resume', encoderPath], /--checkpoint and --resume both given/],
    ];
    for (const [extra, re] of cases) {
      const r = runCli(['train', '--data', data, '--checkpoint', encoderPath, ...extra, '--steps', '2', '--out', join(root, 'bad')]);
      expect(r.code, `${extra.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(re);
    }
    const r = runCli(['train', '--data', data, '--checkpoint', join(root, 'missing.pt'), '--steps', '2', '--out', join(root, 'bad')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--checkpoint .*missing\.pt: ENOENT/);
  }, 300_000);
});
