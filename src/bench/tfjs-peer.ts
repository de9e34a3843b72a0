// The peer the benchmarks compare against: the same FCMAE training step written plainly with
// TensorFlow.js ops on its WebGPU backend, as a user without this project would write it.
// Dense-equivalent masked semantics (spec §4.4): zero masked sites before and after every
// depthwise conv, GRN statistics over visible sites, stem output masked, decoder input
// x·(1 − m) + token·m, loss over masked patches only. Masked-site values then never reach a
// visible site or the loss, so loss and gradients equal the sparse engine's; the dense
// version just does all the masked work too (that is the point of the comparison).
// Gradients by tf.variableGrads, then AdamW (torch semantics) with tf ops.
// The caller passes the `tf` module (tfjs-core with tfjs-backend-webgpu registered and set):
// Node needs navigator.gpu from Dawn before the import (src/bench/tfjs-node.ts), the browser
// page imports it normally. Only types are imported here, so nothing loads TF.js by accident.
import { MASK_PATCH, PATCH_VALUES, type ModelConfig, type StepOptions } from '../model/config.ts';
import type { ParamSpec, ParamTable } from '../model/parameters.ts';
import type { AdamWConfig } from '../ops/adamw.ts';

// The slice of the TF.js API used here, declared structurally: importing tfjs-core's own
// types would drag in its pinned, older @webgpu/types and break the project's WebGPU types.
export interface Tensor {
  readonly shape: number[];
  readonly rank: number;
  data(): Promise<ArrayLike<number>>;
  dispose(): void;
}
export interface Variable extends Tensor {
  assign(value: Tensor): void;
}
type Operand = Tensor | number;
export interface Tf {
  tidy<R>(fn: () => R): R;
  keep<T extends Tensor>(t: T): T;
  dispose(t: Tensor | Tensor[]): void;
  tensor1d(data: Float32Array): Tensor;
  tensor2d(data: Float32Array, shape: [number, number]): Tensor;
  tensor4d(data: Float32Array, shape: [number, number, number, number]): Tensor;
  variable(init: Tensor, trainable?: boolean, name?: string): Variable;
  zerosLike(t: Tensor): Tensor;
  ones(shape: number[]): Tensor;
  randomUniform(shape: number[], min: number, max: number, dtype: 'float32', seed: number): Tensor;
  add(a: Operand, b: Operand): Tensor;
  sub(a: Operand, b: Operand): Tensor;
  mul(a: Operand, b: Operand): Tensor;
  div(a: Operand, b: Operand): Tensor;
  pow(a: Tensor, e: number): Tensor;
  square(a: Tensor): Tensor;
  sqrt(a: Tensor): Tensor;
  rsqrt(a: Tensor): Tensor;
  tanh(a: Tensor): Tensor;
  erf(a: Tensor): Tensor;
  sum(a: Tensor, axis?: number | number[], keepDims?: boolean): Tensor;
  mean(a: Tensor, axis?: number | number[], keepDims?: boolean): Tensor;
  moments(a: Tensor, axis: number, keepDims: boolean): { mean: Tensor; variance: Tensor };
  reshape(a: Tensor, shape: number[]): Tensor;
  transpose(a: Tensor, perm: number[]): Tensor;
  tile(a: Tensor, reps: number[]): Tensor;
  slice(a: Tensor, begin: number[], size: number[]): Tensor;
  stack(ts: Tensor[]): Tensor;
  matMul(a: Tensor, b: Tensor, transposeA?: boolean, transposeB?: boolean): Tensor;
  conv2d(x: Tensor, filter: Tensor, strides: number, pad: 'valid' | 'same'): Tensor;
  depthwiseConv2d(x: Tensor, filter: Tensor, strides: number, pad: 'valid' | 'same'): Tensor;
  variableGrads(f: () => Tensor, varList?: Variable[]): { value: Tensor; grads: Record<string, Tensor> };
  memory(): object;
  backend(): unknown;
  getBackend(): string;
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
}

const LN_EPS = 1e-6;
const GRN_EPS = 1e-6;
const NORM_PIX_EPS = 1e-6;

export class PeerUnsupportedError extends Error {
  override readonly name = 'PeerUnsupportedError';
}

/** The adapter TF.js's WebGPU backend runs on, as far as it tells. */
export function tfjsAdapterName(tf: Tf): string {
  const backend = tf.backend() as unknown as { adapterInfo?: { vendor?: string; architecture?: string } };
  const info = backend.adapterInfo;
  return info ? [info.vendor, info.architecture].filter(Boolean).join(' ') || 'unknown' : `backend ${tf.getBackend()}`;
}

/**
 * TF.js n×n·n×n matmuls for timing: `sample(calls)` queues `calls` products, then reads one
 * element of the last back (the fence) and returns the wall time per call.
 */
export class TfjsMatmulSampler {
  private readonly a: Tensor;
  private readonly b: Tensor;
  constructor(
    private readonly tf: Tf,
    readonly n: number,
  ) {
    this.a = tf.randomUniform([n, n], -1, 1, 'float32', 1);
    this.b = tf.randomUniform([n, n], -1, 1, 'float32', 2);
  }

  async sample(calls: number): Promise<number> {
    const { tf } = this;
    const t0 = performance.now();
    const out: Tensor[] = [];
    for (let i = 0; i < calls; i++) out.push(tf.matMul(this.a, this.b));
    const corner = tf.slice(out[out.length - 1]!, [0, 0], [1, 1]);
    await corner.data();
    const ms = (performance.now() - t0) / calls;
    tf.dispose([...out, corner]);
    return ms;
  }

  dispose(): void {
    this.tf.dispose([this.a, this.b]);
  }
}

export interface PeerSettings {
  config: ModelConfig;
  batchSize: number;
  height: number;
  width: number;
  options: StepOptions;
  adamw: AdamWConfig;
}

/** TF.js layout of an engine-layout parameter (see src/model/parameters.ts for the engine side). */
function toTfLayout(tf: Tf, spec: ParamSpec, flat: Float32Array): Tensor {
  const data = flat.slice(spec.offset, spec.offset + spec.size);
  const s = spec.torchShape;
  switch (spec.kind) {
    case 'stem-conv': // (d0, 3·4·4) PyTorch order → HWIO filter (4, 4, 3, d0)
      return tf.tidy(() => tf.transpose(tf.tensor4d(data, [s[0]!, s[1]!, 4, 4]), [2, 3, 1, 0]));
    case 'downsample-conv': // engine (C', dy, dx, C) → HWIO (2, 2, C, C')
      return tf.tidy(() => tf.transpose(tf.tensor4d(data, [s[0]!, 2, 2, s[1]!]), [1, 2, 3, 0]));
    case 'dwconv': // engine (49, C) tap-major = (7, 7, C, 1) depthwise filter
      return tf.tensor4d(data, [7, 7, s[0]!, 1]);
    case 'linear': // (out, in[, 1, 1]): used as x·Wᵀ
      return tf.tensor2d(data, [s[0]!, s[1]!]);
    default: // biases, norms, GRN, mask token: vectors
      return tf.tensor1d(data);
  }
}

/**
 * One FCMAE model in TF.js variables, with AdamW state. `step(images, mask)` runs forward,
 * backward and the update and resolves with the loss (computed before the update).
 */
export class TfjsFcmaePeer {
  readonly vars = new Map<string, Variable>();
  private readonly m = new Map<string, Variable>();
  private readonly v = new Map<string, Variable>();
  private readonly decay = new Map<string, boolean>();
  private stepCount = 0;
  readonly gridH: number;
  readonly gridW: number;
  readonly L: number;

  constructor(
    readonly tf: Tf,
    readonly table: ParamTable,
    flatParams: Float32Array,
    readonly s: PeerSettings,
  ) {
    if (s.options.denseEncoder) throw new PeerUnsupportedError('the TF.js peer implements the masked (sparse-equivalent) encoder only, not the dense-encoder ablation');
    if (s.options.grnMode !== 'per-sample') throw new PeerUnsupportedError(`the TF.js peer implements per-sample GRN only (got '${s.options.grnMode}')`);
    this.gridH = s.height / MASK_PATCH;
    this.gridW = s.width / MASK_PATCH;
    this.L = this.gridH * this.gridW;
    for (const spec of table.specs) {
      const init = toTfLayout(tf, spec, flatParams);
      this.vars.set(spec.name, tf.variable(init, true, spec.name));
      this.m.set(spec.name, tf.variable(tf.zerosLike(init), false, `${spec.name}/adam-m`));
      this.v.set(spec.name, tf.variable(tf.zerosLike(init), false, `${spec.name}/adam-v`));
      this.decay.set(spec.name, spec.decay);
      init.dispose();
    }
  }

  private p(name: string): Variable {
    const v = this.vars.get(name);
    if (!v) throw new Error(`TF.js peer: no parameter ${name}`);
    return v;
  }

  private layerNorm(x: Tensor, prefix: string): Tensor {
    const tf = this.tf;
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, LN_EPS))), this.p(`${prefix}.weight`)), this.p(`${prefix}.bias`));
  }

  private gelu(x: Tensor): Tensor {
    const tf = this.tf;
    if (this.s.options.gelu === 'tanh') {
      const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
      return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
    }
    return tf.mul(tf.mul(0.5, x), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
  }

  /** x·Wᵀ + b over the last axis of an NHWC tensor. */
  private linear(x: Tensor, prefix: string): Tensor {
    const tf = this.tf;
    const w = this.p(`${prefix}.weight`);
    const w2 = w.rank === 2 ? w : tf.reshape(w, [w.shape[0]!, -1]);
    const shape = x.shape;
    const flat = tf.reshape(x, [-1, shape[shape.length - 1]!]);
    const y = tf.add(tf.matMul(flat, w2, false, true), this.p(`${prefix}.bias`));
    return tf.reshape(y, [...shape.slice(0, -1), w2.shape[0]!]);
  }

  /** ConvNeXt V2 block on NHWC x; `visible` (N, h, w, 1) is 1 at visible sites (null: all). */
  private block(x: Tensor, prefix: string, visible: Tensor | null): Tensor {
    const tf = this.tf;
    const mask = (t: Tensor) => (visible ? tf.mul(t, visible) : t);
    let h = mask(x);
    h = tf.depthwiseConv2d(h, this.p(`${prefix}.dwconv.weight`), 1, 'same');
    h = mask(tf.add(h, this.p(`${prefix}.dwconv.bias`)));
    h = this.layerNorm(h, `${prefix}.norm`);
    h = this.linear(h, `${prefix}.pwconv1`);
    h = this.gelu(h);
    // GRN: G = ‖h‖₂ over the sample's visible sites, Nx = G / (mean_c G + eps)
    const g = tf.sqrt(tf.sum(tf.square(mask(h)), [1, 2], true));
    const nx = tf.div(g, tf.add(tf.mean(g, -1, true), GRN_EPS));
    h = tf.add(tf.add(tf.mul(this.p(`${prefix}.grn.gamma`), tf.mul(h, nx)), this.p(`${prefix}.grn.beta`)), h);
    h = this.linear(h, `${prefix}.pwconv2`);
    return tf.add(x, h);
  }

  /** (N, gh·r, gw·r, 1) visibility at r sites per patch side from mask (N, L), 1 = masked. */
  private visibleAt(mask: Tensor, r: number): Tensor {
    const tf = this.tf;
    const N = this.s.batchSize;
    const vis = tf.sub(1, tf.reshape(mask, [N, this.gridH, 1, this.gridW, 1, 1]));
    return tf.reshape(tf.tile(vis, [1, 1, r, 1, r, 1]), [N, this.gridH * r, this.gridW * r, 1]);
  }

  /** Patchified (normalised) targets (N·L, 3072): patch rows raster, inside (row, col, channel). */
  private targets(imageNhwc: Tensor): Tensor {
    const tf = this.tf;
    const N = this.s.batchSize;
    const t = tf.reshape(tf.transpose(tf.reshape(imageNhwc, [N, this.gridH, MASK_PATCH, this.gridW, MASK_PATCH, 3]), [0, 1, 3, 2, 4, 5]), [N * this.L, PATCH_VALUES]);
    if (!this.s.options.normPix) return t;
    const mean = tf.mean(t, -1, true);
    const variance = tf.div(tf.sum(tf.square(tf.sub(t, mean)), -1, true), PATCH_VALUES - 1); // unbiased
    return tf.div(tf.sub(t, mean), tf.sqrt(tf.add(variance, NORM_PIX_EPS)));
  }

  /**
   * The FCMAE loss of images (N, 3, H, W) NCHW under mask (N, L) as a scalar tensor;
   * `anyMasked` false (ratio 0) counts every patch, as the engine does.
   */
  loss(images: Tensor, mask: Tensor, anyMasked: boolean): Tensor {
    const tf = this.tf;
    const { config } = this.s;
    const N = this.s.batchSize;
    const x0 = tf.transpose(images, [0, 2, 3, 1]); // (N, H, W, 3)
    const stemW = this.p('encoder.downsample_layers.0.0.weight');
    let x = tf.add(tf.conv2d(x0, stemW, 4, 'valid'), this.p('encoder.downsample_layers.0.0.bias'));
    x = this.layerNorm(x, 'encoder.downsample_layers.0.1');
    x = tf.mul(x, this.visibleAt(mask, 8));
    for (let s = 0; s < 4; s++) {
      if (s > 0) {
        const pre = `encoder.downsample_layers.${s}`;
        x = this.layerNorm(x, `${pre}.0`);
        x = tf.add(tf.conv2d(x, this.p(`${pre}.1.weight`), 2, 'valid'), this.p(`${pre}.1.bias`));
      }
      const visible = this.visibleAt(mask, 8 >> s);
      for (let b = 0; b < config.depths[s]!; b++) x = this.block(x, `encoder.stages.${s}.${b}`, visible);
    }
    // decoder on the (gh, gw) grid
    const m = tf.reshape(mask, [N, this.gridH, this.gridW, 1]);
    let d = this.linear(x, 'proj');
    d = tf.add(tf.mul(d, tf.sub(1, m)), tf.mul(this.p('mask_token'), m));
    for (let b = 0; b < config.decoderDepth; b++) d = this.block(d, `decoder.${b}`, null);
    const pred = tf.reshape(this.linear(d, 'pred'), [N * this.L, PATCH_VALUES]);
    const target = this.targets(x0);
    const perPatch = tf.mean(tf.square(tf.sub(pred, target)), -1); // (N·L)
    const weights = anyMasked ? tf.reshape(mask, [N * this.L]) : tf.ones([N * this.L]);
    return tf.div(tf.sum(tf.mul(perPatch, weights)), tf.sum(weights));
  }

  /** The batch as tensors: images (N, 3, H, W), mask (N, L) 1 = masked. Caller disposes them. */
  batchTensors(images: Float32Array, mask: Float32Array): { images: Tensor; mask: Tensor; anyMasked: boolean } {
    const { batchSize: N, height, width } = this.s;
    if (images.length !== N * 3 * height * width) throw new RangeError(`TF.js peer: images have ${images.length} values, expected N·3·H·W = ${N * 3 * height * width}`);
    if (mask.length !== N * this.L) throw new RangeError(`TF.js peer: mask has ${mask.length} values, expected N·L = ${N * this.L}`);
    return { images: this.tf.tensor4d(images, [N, 3, height, width]), mask: this.tf.tensor2d(mask, [N, this.L]), anyMasked: mask.some((v) => v !== 0) };
  }

  /** Loss and gradients (by parameter name, TF layouts), no update. Caller disposes them. */
  gradients(images: Float32Array, mask: Float32Array): { loss: Tensor; grads: Record<string, Tensor> } {
    const b = this.batchTensors(images, mask);
    try {
      const { value, grads } = this.tf.variableGrads(() => this.loss(b.images, b.mask, b.anyMasked), [...this.vars.values()]);
      return { loss: value, grads };
    } finally {
      this.tf.dispose([b.images, b.mask]);
    }
  }

  /**
   * One training step at learning rate lr, from host arrays (uploaded every step, as the
   * engine's step does); resolves with the loss before the update.
   */
  async step(images: Float32Array, mask: Float32Array, lr: number): Promise<number> {
    const tf = this.tf;
    const b = this.batchTensors(images, mask);
    const t = ++this.stepCount;
    const { beta1, beta2, eps, weightDecay } = this.s.adamw;
    const bc1 = 1 - beta1 ** t;
    const bc2 = 1 - beta2 ** t;
    const loss = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => this.loss(b.images, b.mask, b.anyMasked), [...this.vars.values()]);
      for (const [name, p] of this.vars) {
        const g = grads[name]!;
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
        const decayed = this.decay.get(name) ? tf.mul(p, 1 - lr * weightDecay) : p;
        const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(bc2)), eps);
        p.assign(tf.sub(decayed, tf.mul(tf.div(m, denom), lr / bc1)));
      }
      return tf.keep(value);
    });
    const value = (await loss.data())[0]!;
    tf.dispose([loss, b.images, b.mask]);
    return value;
  }

  dispose(): void {
    for (const map of [this.vars, this.m, this.v]) for (const v of map.values()) v.dispose();
  }
}

/** ‖gradient‖₂ of every parameter of the peer (layout-independent, so comparable with the engine's). */
export async function peerGradientNorms(peer: TfjsFcmaePeer, images: Float32Array, mask: Float32Array): Promise<{ loss: number; norms: Map<string, number> }> {
  const tf = peer.tf;
  const { loss, grads } = peer.gradients(images, mask);
  const names = Object.keys(grads);
  const normTensor = tf.tidy(() => tf.stack(names.map((n) => tf.sqrt(tf.sum(tf.square(grads[n]!))))));
  const [values, lossValue] = await Promise.all([normTensor.data(), loss.data()]);
  tf.dispose([normTensor, loss, ...Object.values(grads)]);
  return { loss: lossValue[0]!, norms: new Map(names.map((n, i) => [n, values[i]!])) };
}
