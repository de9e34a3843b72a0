// The official FCMAE training checkpoint through the real CLI: `train --resume` of the
// torch-2.x-written official-train.pth (tests/reference/gen_official_pretrain.py) continues
// exactly as the engine continues its own run from the same weights, moments and step (a native
// checkpoint built from the fixture's independently mapped canonical tensors): equal losses.
// Then `convert --format official-pretrain` of the continued run writes the moments it holds and
// prints the torchrun command lines with the batch and lr arithmetic for --gpus N. Where the
// reference venv (torch 2.x, timm) and a checkout of the official code are at hand
// (FCMAE_OFFICIAL_CONVNEXTV2=DIR holding models/), the export is also loaded by the official
// FCMAE module tree strictly and by torch's AdamW over the official groups, whose every
// exp_avg / exp_avg_sq must equal the run's moments (gen_official_pretrain.py --check).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNativeCheckpoint, writeNativeCheckpoint } from '../../../src/io/native-checkpoint.ts';
import { officialPretrainAsNative, readOfficialPretrain } from '../../../src/io/official-pretrain.ts';
import { readTorchCheckpoint } from '../../../src/io/pytorch.ts';
import { parseSafetensors } from '../../../src/io/safetensors.ts';
import type { StateDict } from '../../../src/model/state-dict.ts';
import { ROOT, runCli } from '../../helpers/cli.ts';
import { FIXTURE_DIR } from '../../helpers/fixtures.ts';

const DIR = join(FIXTURE_DIR, 'io/official-pretrain');
const OFFICIAL = join(DIR, 'official-train.pth');
/** The reference venv's Python and a checkout of facebookresearch/ConvNeXt-V2 (its models/): the library check runs only with both. */
const PYTHON = process.env.FCMAE_REFERENCE_PYTHON ?? '/work/.refvenv/bin/python';
const OFFICIAL_CODE = process.env.FCMAE_OFFICIAL_CONVNEXTV2 ?? '';
const withOfficialCode = existsSync(PYTHON) && OFFICIAL_CODE !== '' && existsSync(join(OFFICIAL_CODE, 'models', 'fcmae.py'));

let tmp: string;
let data: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'fcmae-official-'));
  data = join(tmp, 'data');
  mkdirSync(data);
  for (let i = 0; i < 4; i++) {
    const w = 80 + 8 * i;
    const h = 76;
    const px = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) px[(y * w + x) * 3 + c] = (40 * i + 180 * (y / h) + 20 * Math.sin(x / 4 + c)) & 255;
    writeFileSync(join(data, `img${i}.png`), await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer());
  }
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const losses = (out: string): Map<number, number> =>
  new Map(
    readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { step: number; loss: number })
      .map((m) => [m.step, m.loss]),
  );

describe('official training checkpoint through the CLI', () => {
  it("train --resume official-train.pth continues exactly as the engine's own run from the same state", () => {
    // the engine's own checkpoint: the fixture's canonical tensors (mapped in Python), the run's settings
    const fixture = parseSafetensors(new Uint8Array(readFileSync(join(DIR, 'canonical.safetensors'))));
    const pick = (prefix: string): StateDict => new Map([...fixture.tensors].filter(([k]) => (prefix ? k.startsWith(prefix) : !k.startsWith('adamw.'))).map(([k, t]) => [k.slice(prefix.length), { shape: t.shape, data: t.data }]));
    const imported = officialPretrainAsNative(new Uint8Array(readFileSync(OFFICIAL)), 'official-train.pth')!.checkpoint;
    const own = join(tmp, 'own.safetensors');
    writeFileSync(
      own,
      writeNativeCheckpoint({
        config: imported.config,
        options: imported.options,
        training: imported.training,
        step: 4,
        data: { source: 'the same state', imageCount: 0 },
        params: pick(''),
        adamw: { step: 4, settings: { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.05, decayRule: 'official' }, m: pick('adamw.m.'), v: pick('adamw.v.') },
      }),
    );
    const common = ['--data', data, '--steps', '6', '--checkpoint-every', '0', '--eval-images', '1'];
    const a = runCli(['train', '--resume', OFFICIAL, '--out', join(tmp, 'from-official'), ...common]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/official FCMAE training checkpoint/);
    expect(a.stdout).toMatch(/AdamW moments of 71 parameters at step 4/);
    expect(a.stdout).toMatch(/weight-decay rule official/);
    expect(a.stderr).toMatch(/not taken from official-train\.pth: data order/);
    const b = runCli(['train', '--resume', own, '--out', join(tmp, 'own'), ...common]);
    expect(b.code, b.stderr).toBe(0);
    const la = losses(join(tmp, 'from-official'));
    const lb = losses(join(tmp, 'own'));
    expect([...la.keys()]).toEqual([5, 6]);
    for (const step of [5, 6]) expect({ step, loss: la.get(step) }).toEqual({ step, loss: lb.get(step) });
    expect(Number.isFinite(la.get(5))).toBe(true);
  }, 600_000);

  it('convert --format official-pretrain writes the run’s moments and prints the torchrun lines for N GPUs', () => {
    const native = join(tmp, 'from-official', 'checkpoint-000006.safetensors');
    const out = join(tmp, 'export.pth');
    const r = runCli(['convert', '--in', native, '--format', 'official-pretrain', '--out', out, '--gpus', '2', '--dataset-size', '4']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/torchrun --nproc_per_node=2 main_pretrain\.py/);
    expect(r.stdout).toMatch(/--resume export\.pth/);
    expect(r.stdout).toMatch(/torchrun --nproc_per_node=2 main_finetune\.py/);
    expect(r.stdout).toMatch(/eff_batch = batch_size 1 × update_freq 1 × 2 GPUs = 2/);
    expect(r.stdout).toMatch(/weight-decay rule: official/);
    const run = readNativeCheckpoint(new Uint8Array(readFileSync(native)), 'run');
    const back = readOfficialPretrain(readTorchCheckpoint(new Uint8Array(readFileSync(out)), 'export.pth'));
    expect(back.step).toBe(6);
    for (const [which, mine, theirs] of [['m', back.adamw!.m, run.adamw!.m], ['v', back.adamw!.v, run.adamw!.v]] as const) {
      for (const [name, t] of theirs) expect({ which, name, equal: t.data.every((x, i) => x === mine.get(name)!.data[i]) }).toEqual({ which, name, equal: true });
    }
    for (const [name, t] of run.params) expect({ name, equal: t.data.every((x, i) => x === back.params.get(name)!.data[i]) }).toEqual({ name, equal: true });
  }, 300_000);

  it.skipIf(!withOfficialCode)('the export loads into the official FCMAE strictly and into torch AdamW over the official groups, moments equal', () => {
    const native = join(tmp, 'from-official', 'checkpoint-000006.safetensors');
    const out = join(tmp, 'export.pth');
    const r = spawnSync(PYTHON, [join(ROOT, 'tests/reference/gen_official_pretrain.py'), '--official', OFFICIAL_CODE, '--check', out, '--native', native], { encoding: 'utf8', timeout: 300_000 });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/strict load_state_dict: <All keys matched successfully>/);
    expect(r.stdout).toMatch(/optimizer\.load_state_dict: ok; 142 moments equal the native file's exactly; step 6\.0/);
  }, 300_000);
});
