// Decoder warm-up (options.freezeEncoder): the frozen plan against the full one on the same
// weights, batch and mask. The full step is itself checked against PyTorch
// (fcmae-parity.test.ts), so it is the reference here:
//  - the frozen plan has no encoder backward dispatch (by phase and label), no proj dX, and
//    fewer dispatches and FLOPs than the full plan;
//  - the loss and every decoder-side gradient equal the full step's (same kernels, same order);
//  - one AdamW step moves the decoder-side weights and moments exactly as the full step does,
//    and as a float64 AdamW of those gradients does; the encoder's weights and moments keep
//    their bytes;
//  - after several steps the encoder is still bit-identical and the loss has fallen.
import { describe, expect, it } from 'vitest';
import { customConfig, DEFAULT_STEP_OPTIONS } from '../../../src/model/config.ts';
import { decayBoundary, isEncoderParam, initialParams, paramTable, type ParamSpec } from '../../../src/model/parameters.ts';
import { ADAMW_DEFAULTS, type WeightDecayRule } from '../../../src/ops/adamw.ts';
import { adamwStepRef } from '../../../src/reference/adamw.ts';
import { generateMasks } from '../../../src/train/masking.ts';
import { Trainer, type TrainerState } from '../../../src/train/trainer.ts';
import { Random } from '../../../src/util/random.ts';
import { testEngine } from '../../helpers/gpu.ts';

const N = 2;
const SIDE = 64;
const L = 4;
const V = 2;
const config = customConfig([1, 1, 1, 1], [8, 16, 24, 32], 16, 1);
const table = paramTable(config);
const LR = 2e-3;

function images(seed: number): Float32Array {
  const rng = new Random(seed);
  const x = new Float32Array(N * 3 * SIDE * SIDE);
  // smooth-ish images: a decoder can learn something about them in a few steps
  for (let n = 0; n < N; n++)
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < SIDE; y++)
        for (let xx = 0; xx < SIDE; xx++) x[((n * 3 + c) * SIDE + y) * SIDE + xx] = Math.sin((xx + 7 * n) / 9 + c) * Math.cos(y / 11) + 0.1 * rng.normal();
  return x;
}

function trainer(freezeEncoder: boolean, params: Float32Array, decayRule: WeightDecayRule = 'maintainers'): Promise<Trainer> {
  return testEngine().then((engine) =>
    Trainer.create(engine, { config, batchSize: N, height: SIDE, width: SIDE, visible: V, options: { ...DEFAULT_STEP_OPTIONS, freezeEncoder }, adamw: { ...ADAMW_DEFAULTS, decayRule }, learningRate: () => LR, seed: 1 }, params),
  );
}

const view = (a: Float32Array, s: ParamSpec) => a.subarray(s.offset, s.offset + s.size);
const encoderSpecs = table.specs.filter((s) => isEncoderParam(s.name));
const decoderSpecs = table.specs.filter((s) => !isEncoderParam(s.name));

/** Names of the tensors whose bytes differ between a and b. */
function changedBytes(a: Float32Array, b: Float32Array, specs: ParamSpec[]): string[] {
  return specs.filter((s) => Buffer.compare(Buffer.from(new Uint8Array(view(a, s).slice().buffer)), Buffer.from(new Uint8Array(view(b, s).slice().buffer))) !== 0).map((s) => s.name);
}

/** The worst |a − b| over `specs`, relative to the largest |b| of that tensor, with where. */
function worst(a: Float32Array | Float64Array, b: Float32Array | Float64Array, specs: ParamSpec[]): { rel: number; where: string } {
  let out = { rel: 0, where: 'none' };
  for (const s of specs) {
    let scale = 0;
    for (let i = s.offset; i < s.offset + s.size; i++) scale = Math.max(scale, Math.abs(b[i]!));
    for (let i = s.offset; i < s.offset + s.size; i++) {
      const rel = Math.abs(a[i]! - b[i]!) / (scale || 1);
      if (rel > out.rel) out = { rel, where: `${s.name}[${i - s.offset}]: ${a[i]} vs ${b[i]}` };
    }
  }
  return out;
}

describe('frozen-encoder plan (decoder warm-up)', () => {
  const initial = initialParams(table, new Random(3));
  const imgs = images(5);
  const mask = generateMasks(N, L, V, new Random(9));

  it('has no encoder backward and fewer dispatches, FLOPs and bytes than the full plan', async () => {
    const [full, frozen] = [await trainer(false, initial), await trainer(true, initial)];
    try {
      const a = full.plan.ledger();
      const b = frozen.plan.ledger();
      const encoderBackward = /^(stem|stage \d|downsample \d) backward$/;
      expect(a.dispatches.filter((d) => encoderBackward.test(d.phase)).length, 'the full plan has encoder backward dispatches').toBeGreaterThan(0);
      const bad = b.dispatches.filter((d) => encoderBackward.test(d.phase) || /^(encoder\.|stem\/|down\d)/.test(d.label) && d.phase.endsWith('backward') || d.label.startsWith('dec/proj-dX'));
      expect(bad.map((d) => `${d.phase} / ${d.label}`), 'encoder backward dispatches in the frozen plan').toEqual([]);
      expect(b.buffers.filter((x) => /^grad-stream\/\d$|^encoder\.stages\.\d\/d-scratch|^stem\/d-conv$|^down\d\/d-ln$/.test(x.name)).map((x) => x.name), 'encoder gradient buffers').toEqual([]);
      // everything else is the same list: the forward, the decoder's and the loss's backward
      const keep = a.dispatches.filter((d) => !encoderBackward.test(d.phase) && !d.label.startsWith('dec/proj-dX') && d.phase !== 'optimizer');
      expect(b.dispatches.filter((d) => d.phase !== 'optimizer').map((d) => `${d.phase}|${d.label}`)).toEqual(keep.map((d) => `${d.phase}|${d.label}`));
      expect(b.dispatches.length).toBeLessThan(a.dispatches.length);
      expect(b.totalFlops).toBeLessThan(a.totalFlops);
      expect(b.totalBytes).toBeLessThan(a.totalBytes);
      const grads = b.buffers.find((x) => x.name === 'grads')!.bytes;
      expect(grads, 'gradient buffer: the decoder side only').toBe(4 * decoderSpecs.reduce((s, p) => s + Math.ceil(p.size / 64) * 64, 0));
    } finally {
      full.destroy();
      frozen.destroy();
    }
  }, 300_000);

  it.each(['maintainers', 'official'] as const)('gives the full step’s loss and decoder-side gradients, and its AdamW update of the decoder (%s weight-decay rule)', async (rule) => {
    const [full, frozen] = [await trainer(false, initial, rule), await trainer(true, initial, rule)];
    try {
      const g = await full.gradients(imgs, mask);
      const f = await frozen.gradients(imgs, mask);
      expect(f.loss, 'loss').toBe(g.loss);
      const gw = worst(f.grads, g.grads, decoderSpecs);
      expect(gw.rel, `decoder-side gradients, worst ${gw.where}`).toBeLessThanOrEqual(1e-6);
      for (const s of encoderSpecs) expect(view(f.grads, s).every((x) => x === 0), `${s.name} has no gradient in the frozen plan`).toBe(true);

      // the same AdamW state in both (nonzero moments, step 3), then one step on the same batch
      const rng = new Random(11);
      const m = Float32Array.from(initial, () => 1e-3 * rng.normal());
      const v = Float32Array.from(initial, () => 1e-6 * Math.abs(rng.normal()));
      const start: TrainerState = { step: 3, params: initial, m, v };
      full.restoreState(start);
      frozen.restoreState(start);
      await full.step(imgs, mask);
      await frozen.step(imgs, mask);
      const a = await full.saveState();
      const b = await frozen.saveState();
      for (const [what, x, y] of [['weights', b.params, a.params], ['m', b.m!, a.m!], ['v', b.v!, a.v!]] as const) {
        const d = worst(x, y, decoderSpecs);
        expect(d.rel, `decoder ${what} after the step: frozen vs full, worst ${d.where}`).toBeLessThanOrEqual(1e-6);
      }
      // float64 AdamW of the full step's gradients over the decoder side
      const ref = { params: Float64Array.from(initial), m: Float64Array.from(m), v: Float64Array.from(v) };
      adamwStepRef(ref, g.grads, { step: 4, lr: LR, beta1: ADAMW_DEFAULTS.beta1, beta2: ADAMW_DEFAULTS.beta2, eps: ADAMW_DEFAULTS.eps, weightDecay: ADAMW_DEFAULTS.weightDecay, decayCount: decayBoundary(table, rule) });
      const r = worst(b.params, ref.params, decoderSpecs);
      expect(r.rel, `decoder weights vs float64 AdamW, worst ${r.where}`).toBeLessThanOrEqual(1e-5);
      // the encoder: weights and moments keep their bytes in the frozen run (and move in the full one)
      expect(changedBytes(b.params, initial, encoderSpecs), 'encoder weights changed').toEqual([]);
      expect(changedBytes(b.m!, m, encoderSpecs), 'encoder AdamW m changed').toEqual([]);
      expect(changedBytes(b.v!, v, encoderSpecs), 'encoder AdamW v changed').toEqual([]);
      expect(changedBytes(a.params, initial, encoderSpecs).length, 'the full step moves the encoder').toBeGreaterThan(0);
    } finally {
      full.destroy();
      frozen.destroy();
    }
  }, 300_000);

  it('keeps the encoder bit-identical over several steps while the loss falls', async () => {
    const frozen = await trainer(true, initial);
    try {
      const losses: number[] = [];
      for (let k = 0; k < 12; k++) losses.push((await frozen.step(imgs, mask)).loss);
      const after = await frozen.saveState();
      expect(changedBytes(after.params, initial, encoderSpecs), 'encoder weights changed').toEqual([]);
      expect(changedBytes(after.params, initial, decoderSpecs).length, 'decoder tensors that moved').toBe(decoderSpecs.length);
      const first = losses[0]!;
      const last = losses[losses.length - 1]!;
      const trace = losses.map((l) => l.toFixed(4)).join(' → ');
      expect(last, `loss ${trace}`).toBeLessThan(0.95 * first);
      expect(losses.every((l, i) => i === 0 || l < losses[i - 1]!), `the loss falls at every step: ${trace}`).toBe(true);
    } finally {
      frozen.destroy();
    }
  }, 300_000);
});
