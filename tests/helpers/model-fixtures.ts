// The model-level PyTorch fixtures (tests/fixtures/model/<config>/, written by
// tests/reference/gen_model_fixtures.py): loading, a trainer set up exactly as the reference
// step, and the gradient comparison. Shared by tests/gpu/model/fcmae-parity.test.ts and
// scripts/gpu-machine/check-parity.ts (the same check on a real GPU); no vitest imports here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '../../src/gpu/engine.ts';
import { parseSafetensors, tensorFloat64 } from '../../src/io/safetensors.ts';
import { validateConfig, type StepOptions } from '../../src/model/config.ts';
import { configFromStateDict, flatFromStateDict, type StateDict } from '../../src/model/state-dict.ts';
import { keptCount } from '../../src/train/masking.ts';
import { Trainer } from '../../src/train/trainer.ts';
import { FIXTURE_DIR } from './fixtures.ts';

/** Every config gen_model_fixtures.py writes (no_grn: blocks without GRN). */
export const MODEL_FIXTURES = ['base', 'nonsquare_batch_grn', 'tanh_n3', 'plain_pix_decoder2', 'dense_encoder', 'ratio0', 'no_grn', 'keep3of9', 'keep27of49'];

export interface ModelFixtureExpected {
  /** `grn` is written only when false (blocks without GRN). */
  config: { depths: number[]; dims: number[]; decoder_depth: number; decoder_dim: number; input_h: number; input_w: number; grn_mode: 'per-sample' | 'batch'; gelu: 'erf' | 'tanh'; norm_pix: boolean; dense_encoder: boolean; grn?: boolean };
  batch: number;
  /** Absent in fixtures made from a visible count (the mask holds it). */
  mask_ratio?: number;
  loss: number;
  adamw: { lr: number; betas: [number, number]; eps: number; weight_decay: number; steps: number; decayed: string[]; losses: number[] };
}

export interface ModelFixture {
  dir: string;
  weights: StateDict;
  /** Reference gradients, float64, canonical names. */
  grads: Map<string, { shape: number[]; data: Float64Array }>;
  imgs: Float32Array;
  mask: Float32Array;
  expected: ModelFixtureExpected;
}

export function loadModelFixture(name: string): ModelFixture {
  const dir = join(FIXTURE_DIR, 'model', name);
  const read = (f: string) => parseSafetensors(new Uint8Array(readFileSync(join(dir, f))), { source: f });
  const weights: StateDict = new Map([...read('weights.safetensors').tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data }]));
  const grads = new Map([...read('grads.safetensors').tensors].map(([k, t]) => [k, { shape: t.shape, data: tensorFloat64(t, k) }]));
  const batch = read('batch.safetensors').tensors;
  const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as ModelFixtureExpected;
  return { dir, weights, grads, imgs: batch.get('imgs')!.data, mask: batch.get('mask')!.data, expected };
}

class FixtureMismatchError extends Error {}

function ensure(ok: boolean, what: string): void {
  if (!ok) throw new FixtureMismatchError(what);
}

/** A trainer for the fixture's config, its weights loaded, AdamW as the reference's (lr fixed). */
export async function trainerForFixture(engine: Engine, f: ModelFixture, lr = 1e-3): Promise<Trainer> {
  const c = f.expected.config;
  const config = configFromStateDict(f.weights);
  ensure(JSON.stringify(config.depths) === JSON.stringify(c.depths), `depths ${config.depths} vs fixture ${c.depths}`);
  ensure(JSON.stringify(config.dims) === JSON.stringify(c.dims), `dims ${config.dims} vs fixture ${c.dims}`);
  ensure(config.grn === (c.grn ?? true), `grn ${config.grn} vs fixture ${c.grn ?? true}`);
  validateConfig(config);
  const options: StepOptions = { grnMode: c.grn_mode, gelu: c.gelu, normPix: c.norm_pix, denseEncoder: c.dense_encoder };
  const L = (c.input_h / 32) * (c.input_w / 32);
  const masked = f.mask.reduce((a, b) => a + b, 0) / f.expected.batch;
  const visible = L - masked; // the plan's key is the fixture mask's own count
  if (f.expected.mask_ratio !== undefined) ensure(keptCount(L, f.expected.mask_ratio) === visible, `kept patches ${keptCount(L, f.expected.mask_ratio)} vs fixture mask ${visible}`);
  const { adamw } = f.expected;
  const trainer = await Trainer.create(engine, {
    config,
    batchSize: f.expected.batch,
    height: c.input_h,
    width: c.input_w,
    visible,
    options,
    adamw: { beta1: adamw.betas[0], beta2: adamw.betas[1], eps: adamw.eps, weightDecay: adamw.weight_decay },
    learningRate: () => lr,
    seed: 1,
  });
  const { flat, problems } = flatFromStateDict(trainer.plan.table, f.weights);
  const bad = [...problems.missing, ...problems.unexpected, ...problems.misshaped.map((m) => JSON.stringify(m))];
  if (bad.length) {
    trainer.destroy();
    throw new FixtureMismatchError(`fixture weights do not fit the plan: ${bad.join(', ')}`);
  }
  trainer.plan.setParams(flat);
  return trainer;
}

/**
 * Relative to each tensor's largest reference gradient: f32 accumulation over thousands of
 * terms through ~20 layers stays well below 1e-3 of the tensor's scale.
 */
export const GRADIENT_TOLERANCE = 2e-3;

export interface GradientComparison {
  /** One line per tensor over the tolerance or missing. */
  failures: string[];
  /** Largest max-diff / max-|grad| over all tensors. */
  worst: number;
  worstName: string;
}

export function compareGradients(want: ModelFixture['grads'], got: StateDict, tolerance = GRADIENT_TOLERANCE): GradientComparison {
  const failures: string[] = [];
  let worst = 0;
  let worstName = '';
  for (const [name, w] of want) {
    const g = got.get(name);
    if (!g) {
      failures.push(`${name}: missing from the engine`);
      continue;
    }
    let maxAbs = 0;
    for (const v of w.data) maxAbs = Math.max(maxAbs, Math.abs(v));
    let maxDiff = 0;
    let at = -1;
    for (let i = 0; i < w.data.length; i++) {
      const d = Math.abs(g.data[i]! - w.data[i]!);
      if (d > maxDiff) {
        maxDiff = d;
        at = i;
      }
    }
    const rel = maxAbs > 0 ? maxDiff / maxAbs : maxDiff;
    if (rel > worst) {
      worst = rel;
      worstName = name;
    }
    if (rel > tolerance) failures.push(`${name}: max diff ${maxDiff.toExponential(2)} at [${at}] (${(rel * 100).toFixed(3)}% of max |grad| ${maxAbs.toExponential(2)}), got ${g.data[at]} want ${w.data[at]}`);
  }
  for (const name of got.keys()) if (!want.has(name)) failures.push(`${name}: the engine has a gradient the reference does not`);
  return { failures, worst, worstName };
}
