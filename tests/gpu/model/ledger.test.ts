// The plan's ledger (FcmaePlan.ledger(): every arena buffer and every dispatch with its FLOPs)
// against the two hand-kept shadow models of the plan:
//  (a) memoryEstimate / estimatedBuffers (src/train/estimates.ts): every buffer the estimate
//      names exists in the plan under that name with exactly those bytes, the largest buffer is
//      the same, and what the estimate leaves out is only the small kinds it says it leaves out
//      (uniforms, per-row/per-group statistics, index tables and scalars, kernels' partial-sum
//      scratch), bounded below;
//  (b) fcmaeStepFlops (src/train/flops.ts): the same FLOPs for every phase, exactly;
//  (c) one ledger entry per dispatch the plan encodes, and one uniform buffer per dispatch.
// Tiny custom models at 64×64 and 64×96, sparse and dense encoder, with and without GRN.
import { describe, expect, it } from 'vitest';
import { countDispatches } from '../../../src/bench/step-bench.ts';
import { customConfig, DEFAULT_STEP_OPTIONS, type ModelConfig, type StepOptions } from '../../../src/model/config.ts';
import { FcmaePlan } from '../../../src/model/fcmae.ts';
import type { PlanLedger } from '../../../src/model/ledger.ts';
import { dwconvBackward, dwconvFlops } from '../../../src/ops/dwconv.ts';
import { fcmaeLossForward, PATCH_VALUES } from '../../../src/ops/fcmae-loss.ts';
import { ELEMENTWISE_FLOPS, lossReduceFlops } from '../../../src/ops/flop-conventions.ts';
import { maskTokenFillBackward } from '../../../src/ops/mask-token.ts';
import { grnBackward, grnFlops, grnForward } from '../../../src/ops/grn.ts';
import { columnSum } from '../../../src/ops/rows.ts';
import { layerNormBackward } from '../../../src/ops/layernorm.ts';
import { matmulDispatches } from '../../../src/ops/matmul.ts';
import { estimatedBuffers, memoryEstimate } from '../../../src/train/estimates.ts';
import { fcmaeStepFlops } from '../../../src/train/flops.ts';
import { testArena, testEngine } from '../../helpers/gpu.ts';

interface Case {
  name: string;
  config: ModelConfig;
  batchSize: number;
  height: number;
  width: number;
  visible: number;
  options: Partial<StepOptions>;
}

const dims = [8, 16, 24, 32];
const CASES: Case[] = [
  { name: '64×64 sparse GRN, batch 2', config: customConfig([1, 1, 1, 1], dims, 16, 2), batchSize: 2, height: 64, width: 64, visible: 2, options: {} },
  { name: '64×96 sparse no GRN, batch 1', config: customConfig([1, 1, 1, 1], dims, 16, 2, false), batchSize: 1, height: 64, width: 96, visible: 3, options: {} },
  { name: '64×96 dense encoder GRN (batch groups), plain pixels, batch 2', config: customConfig([1, 1, 1, 1], dims, 16, 2), batchSize: 2, height: 64, width: 96, visible: 2, options: { denseEncoder: true, grnMode: 'batch', normPix: false } },
  { name: '64×64 dense encoder no GRN, batch 1', config: customConfig([1, 1, 1, 1], dims, 16, 2, false), batchSize: 1, height: 64, width: 64, visible: 1, options: { denseEncoder: true } },
  { name: '64×64 every patch visible, decoder depth 0, batch 1', config: customConfig([1, 1, 1, 1], dims, 16, 0), batchSize: 1, height: 64, width: 64, visible: 4, options: {} },
  // decoder warm-up: no encoder backward, gradients of the decoder side only
  { name: '64×64 sparse GRN, frozen encoder, batch 2', config: customConfig([1, 1, 1, 1], dims, 16, 2), batchSize: 2, height: 64, width: 64, visible: 2, options: { freezeEncoder: true } },
  { name: '64×96 dense encoder no GRN, frozen encoder, batch 1', config: customConfig([1, 1, 1, 1], dims, 16, 1, false), batchSize: 1, height: 64, width: 96, visible: 3, options: { denseEncoder: true, freezeEncoder: true } },
];

/**
 * Buffers the estimate leaves out, by name: uniforms (one per dispatch), per-row and per-group
 * statistics, index tables and scalars, and the kernels' partial-sum scratch. A plan buffer
 * that is neither named by the estimate nor one of these fails the test: a new large buffer
 * must be added to the estimate.
 */
const LEFT_OUT: [string, RegExp][] = [
  ['uniform', /\/params$/],
  ['statistics', /\/(ln-mean|ln-rstd|grn-norm|grn-g)$/],
  ['tables and scalars', /^(adam-scalars|mask|enc-patch-to-visible|enc-visible-patches|dec-patch-to-visible|dec-visible-patches|masked-rows|loss-row-of-patch|loss|per-sample-loss|patch-mean|patch-var|dec\/identity)$/],
  ['scratch', /\/(split-k-partials|column-sum-partials-\d+|param-partials|dweight-partials|sum-sq-partials|dy-partials|dG|param-parts|mask-token-partials|row-loss|no-bias|no-row-sums|no-addend|no-pre|no-dbias)$/],
];

function kindOf(name: string): string | null {
  return LEFT_OUT.find(([, re]) => re.test(name))?.[0] ?? null;
}

async function build(c: Case): Promise<FcmaePlan> {
  const engine = await testEngine();
  return FcmaePlan.build(engine, c.config, { batchSize: c.batchSize, height: c.height, width: c.width, visible: c.visible }, { ...DEFAULT_STEP_OPTIONS, ...c.options });
}

/** (c): one ledger entry per dispatch of the step's phases, each a number ≥ 0. */
function checkDispatches(plan: FcmaePlan, ledger: PlanLedger): void {
  const phases = [...plan.forwardPhases, ...plan.backwardPhases, plan.optimizerPhase];
  const built = phases.reduce((a, p) => a + p.dispatches.length, 0);
  expect(ledger.dispatches.length, `ledger dispatches ${ledger.dispatches.length} vs the phases' ${built}`).toBe(built);
  expect(ledger.dispatches.length, 'ledger dispatches vs the non-empty dispatches a step encodes').toBe(countDispatches(phases).dispatches);
  expect(ledger.dispatches.map((d) => `${d.phase}|${d.label}`)).toEqual(phases.flatMap((p) => p.dispatches.map((d) => `${p.name}|${d.label}`)));
  // every dispatch owns one uniform buffer in the arena (makeDispatch), and nothing else is named …/params
  const uniforms = ledger.buffers.filter((b) => /\/params$/.test(b.name)).length;
  expect(uniforms, `uniform buffers ${uniforms} vs dispatches ${ledger.dispatches.length}`).toBe(ledger.dispatches.length);
  const bad = ledger.dispatches.filter((d) => !(Number.isInteger(d.flops) && d.flops >= 0) || !/\.wgsl:/.test(d.kernel)).map((d) => `${d.phase} / ${d.label} (${d.kernel}): ${d.flops}`);
  expect(bad, bad.join('\n')).toEqual([]);
  expect(ledger.totalFlops).toBe(ledger.dispatches.reduce((a, d) => a + d.flops, 0));
  expect([...ledger.flopsByPhase.keys()]).toEqual(phases.map((p) => p.name));
}

/** (b): fcmaeStepFlops per phase equals the ledger's, exactly. */
function checkFlops(c: Case, ledger: PlanLedger): void {
  const o = { ...DEFAULT_STEP_OPTIONS, ...c.options };
  const est = fcmaeStepFlops(c.config, { batchSize: c.batchSize, height: c.height, width: c.width, visible: c.visible }, { denseEncoder: o.denseEncoder, grnMode: o.grnMode, normPix: o.normPix, freezeEncoder: o.freezeEncoder ?? false });
  const mismatches: string[] = [];
  for (const phase of new Set([...ledger.flopsByPhase.keys(), ...est.byPhase.keys()])) {
    const got = ledger.flopsByPhase.get(phase);
    const want = est.byPhase.get(phase);
    if (got !== want) mismatches.push(`phase '${phase}': ledger ${got} FLOPs, fcmaeStepFlops ${want} (difference ${(got ?? 0) - (want ?? 0)})`);
  }
  expect(mismatches, `${c.name}: FLOPs per phase differ:\n${mismatches.join('\n')}`).toEqual([]);
  expect([...est.byPhase.keys()], 'phases in encoding order').toEqual([...ledger.flopsByPhase.keys()]);
  expect(ledger.totalFlops, 'total FLOPs').toBe(est.total);
}

/** (a): the estimate's buffers against the ledger's; the remainder only small kinds, bounded. */
function checkMemory(c: Case, plan: FcmaePlan, ledger: PlanLedger): void {
  const shape = { inputSize: c.height, height: c.height, width: c.width, visible: c.visible, denseEncoder: c.options.denseEncoder ?? false, freezeEncoder: c.options.freezeEncoder ?? false, batchSize: c.batchSize };
  const estimated = estimatedBuffers(c.config, shape);
  const estimate = memoryEstimate(c.config, shape);
  const byName = new Map<string, number[]>();
  for (const b of ledger.buffers) byName.set(b.name, [...(byName.get(b.name) ?? []), b.bytes]);
  const mismatches: string[] = [];
  const named = new Set<string>();
  for (const e of estimated) {
    if (named.has(e.name)) mismatches.push(`buffer '${e.name}': listed twice by the estimate`);
    named.add(e.name);
    const got = byName.get(e.name);
    if (!got) mismatches.push(`buffer '${e.name}': estimate ${e.bytes} bytes, not in the plan`);
    else if (got.length !== 1) mismatches.push(`buffer '${e.name}': estimate ${e.bytes} bytes, the plan has ${got.length} buffers of that name (${got.join(', ')} bytes)`);
    else if (got[0] !== e.bytes) mismatches.push(`buffer '${e.name}': plan ${got[0]} bytes, estimate ${e.bytes} bytes`);
  }
  const rest = ledger.buffers.filter((b) => !named.has(b.name));
  for (const b of rest) if (kindOf(b.name) === null) mismatches.push(`buffer '${b.name}': plan ${b.bytes} bytes, estimate none (not one of the kinds it leaves out)`);
  expect(mismatches, `${c.name}: buffers differ:\n${mismatches.join('\n')}`).toEqual([]);

  const restBytes = rest.reduce((a, b) => a + b.bytes, 0);
  expect(ledger.totalBytes, `total bytes: ledger ${ledger.totalBytes} = estimate ${estimate.totalBytes} + left out ${restBytes}`).toBe(estimate.totalBytes + restBytes);
  expect(ledger.totalBytes, 'ledger total vs the arena').toBe(plan.arena.bytesAllocated);
  // largest buffer: the same size, and the estimate's name is a buffer of that size
  const largest = Math.max(...ledger.buffers.map((b) => b.bytes));
  expect(estimate.largestBufferBytes, `largest buffer: ledger ${largest} bytes, estimate ${estimate.largestBufferBytes} (${estimate.largestBufferName})`).toBe(largest);
  expect(byName.get(estimate.largestBufferName), `largest buffer '${estimate.largestBufferName}'`).toEqual([largest]);
  // what is left out: every kind below its bound, and a small part of the whole
  const perKind = new Map<string, { bytes: number; count: number; largest: number }>();
  for (const b of rest) {
    const k = kindOf(b.name)!;
    const e = perKind.get(k) ?? { bytes: 0, count: 0, largest: 0 };
    perKind.set(k, { bytes: e.bytes + b.bytes, count: e.count + 1, largest: Math.max(e.largest, b.bytes) });
  }
  const report = [...perKind].map(([k, v]) => `${k}: ${v.count} buffers, ${v.bytes} bytes (largest ${v.largest})`).join('; ');
  const uniforms = perKind.get('uniform');
  expect(uniforms?.largest ?? 0, `uniforms are parameter structs of at most 64 bytes (${report})`).toBeLessThanOrEqual(64);
  for (const [k, v] of perKind) {
    if (k === 'uniform') continue;
    // none of them is as large as an eighth of the largest main buffer
    expect(v.largest, `${k}: largest ${v.largest} bytes vs main largest ${largest} (${report})`).toBeLessThanOrEqual(largest / 8);
  }
  // at these tiny sizes the per-dispatch uniforms weigh most; the rest stays under 10% of the estimate
  const nonUniform = restBytes - (uniforms?.bytes ?? 0);
  expect(nonUniform / estimate.totalBytes, `left out besides uniforms: ${nonUniform} bytes of ${estimate.totalBytes} (${report})`).toBeLessThan(0.1);
  expect((uniforms?.count ?? 0) * 64, `uniform bytes bounded by 64 per dispatch (${report})`).toBeGreaterThanOrEqual(uniforms?.bytes ?? 0);
}

describe('plan ledger vs the hand-kept estimates', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const plan = await build(c);
      try {
        const stepLedger = plan.ledger();
        checkDispatches(plan, stepLedger);
        checkFlops(c, stepLedger);
        // the estimate counts the reconstruction's pred-all (built on the first request)
        const { phase } = await plan.reconstructionPhase();
        const ledger = plan.ledger();
        expect(ledger.dispatches.length, 'the ledger lists the training step only').toBe(stepLedger.dispatches.length);
        expect(ledger.buffers.filter((b) => /\/params$/.test(b.name)).length).toBe(stepLedger.dispatches.length + phase.dispatches.length);
        checkMemory(c, plan, ledger);
      } finally {
        plan.destroy();
      }
    });
  }

  it('an op counts the same FLOPs however its kernels split the work', async () => {
    const engine = await testEngine();
    const arena = testArena(engine, 'ledger-splits');
    try {
      const total = (ds: { flops: number }[]) => ds.reduce((a, d) => a + d.flops, 0);
      const a = arena.f32('a', 4096 * 8);
      const b = arena.f32('b', 4096 * 16);
      const out = arena.f32('out', 8 * 16);
      const bias = arena.f32('bias', 16);
      // matmul (8, 16) = aᵀ(8, 4096) · b(4096, 16) + bias, += : split-K 1, 4, 'auto'; both kernels
      const counts: number[] = [];
      for (const kernel of ['tiled', 'direct'] as const) {
        for (const splitK of [1, 4, 'auto'] as const) {
          const ds = await matmulDispatches(engine, arena, `mm-${kernel}-${splitK}`, a, b, out, { M: 8, N: 16, K: 4096, transA: true, bias, accumulate: true, splitK, kernel });
          if (splitK === 4) expect(ds.length).toBe(2);
          counts.push(total(ds));
        }
      }
      expect(new Set(counts)).toEqual(new Set([2 * 8 * 16 * 4096 + 2 * 8 * 16]));
      // column sums: one pass or a tree of partial passes, shared or barrier-free
      const x = arena.f32('x', 70000 * 3);
      const colSum = arena.f32('col-sum', 3);
      for (const plan of ['shared', 'direct'] as const) {
        expect(total(await columnSum(engine, arena, `cs-${plan}`, { x, out: colSum }, { rows: 70000, C: 3, plan }))).toBe(70000 * 3);
      }
      // LayerNorm backward: the GPU and the software plans cut the rows differently
      const n = 300 * 40;
      const lnIo = { x: arena.f32('ln-x', n), weight: arena.f32('ln-w', 40), mean: arena.f32('ln-mean', 300), rstd: arena.f32('ln-rstd', 300), dY: arena.f32('ln-dy', n), dX: arena.f32('ln-dx', n), dWeight: arena.f32('ln-dw', 40), dBias: arena.f32('ln-db', 40) };
      for (const plan of ['gpu', 'software'] as const) expect(total(await layerNormBackward(engine, arena, `ln-${plan}`, lnIo, { rows: 300, C: 40, plan }))).toBe(13 * n);
      // GRN: its dispatches add up to grnFlops, per sample or over the batch
      const g = { x: arena.f32('g-x', 2 * 600 * 16), gamma: arena.f32('g-gamma', 16), beta: arena.f32('g-beta', 16), y: arena.f32('g-y', 2 * 600 * 16), norm: arena.f32('g-norm', 2 * 16), gnorm: arena.f32('g-gnorm', 2 * 16) };
      for (const mode of ['per-sample', 'batch'] as const) {
        for (const stats of ['fused', 'from-rows', 'two-pass'] as const) {
          const shape = { N: 2, rowsPerSample: 600, C: 16, mode, stats };
          expect(total(await grnForward(engine, arena, `grn-${mode}-${stats}`, g, shape))).toBe(grnFlops(shape, 'forward'));
          const io = { x: g.x, gamma: g.gamma, norm: g.norm, gnorm: g.gnorm, dY: g.y, dX: arena.f32(`g-dx-${mode}-${stats}`, 2 * 600 * 16), dGamma: arena.f32(`g-dgamma-${mode}-${stats}`, 16), dBeta: arena.f32(`g-dbeta-${mode}-${stats}`, 16) };
          expect(total(await grnBackward(engine, arena, `grn-bwd-${mode}-${stats}`, io, shape))).toBe(grnFlops(shape, 'backward'));
        }
      }
      // depthwise conv backward: the tiled and the direct dWeight passes chunk the rows differently
      const dw = { N: 1, V: 4, gridH: 2, gridW: 2, r: 4, C: 8 };
      const rows = 4 * 16;
      const tables = { patchToVisible: arena.fromData('dw-p2v', Int32Array.of(0, 1, 2, 3)), visiblePatches: arena.fromData('dw-vis', Int32Array.of(0, 1, 2, 3)) };
      const dwIo = { ...tables, x: arena.f32('dw-x', rows * 8), weight: arena.f32('dw-w', 49 * 8), dY: arena.f32('dw-dy', rows * 8), dX: arena.f32('dw-dx', rows * 8), dWeight: arena.f32('dw-dw', 49 * 8), dBias: arena.f32('dw-db', 8) };
      for (const kernel of ['tiled', 'direct'] as const) {
        // dX (49 taps) + dWeight (49 taps) + dBias + the residual accumulate into dX
        expect(total(await dwconvBackward(engine, arena, `dw-${kernel}`, dwIo, { ...dw, kernel, accumulateDX: true }))).toBe(2 * dwconvFlops(dw) + 2 * rows * 8);
      }
      // FCMAE loss: rows + reduce as two dispatches or one workgroup, either plan
      const NM = 2 * 3;
      const lossIo = { pred: arena.f32('l-pred', NM * PATCH_VALUES), target: arena.f32('l-target', 2 * 4 * PATCH_VALUES), maskedRows: arena.f32('l-rows', NM), loss: arena.f32('l-loss', 1), perSample: arena.f32('l-sample', 2) };
      for (const plan of ['gpu', 'software'] as const) {
        for (const oneWorkgroup of [false, true]) {
          const ds = await fcmaeLossForward(engine, arena, `loss-${plan}-${oneWorkgroup}`, lossIo, { N: 2, L: 4, M: 3, plan, oneWorkgroup, subgroups: false });
          expect(ds.length).toBe(oneWorkgroup ? 1 : 2);
          expect(total(ds)).toBe(ELEMENTWISE_FLOPS.lossForward * NM * PATCH_VALUES + NM + lossReduceFlops(2, 3));
        }
      }
      // mask-token dMaskToken: partials + column sum, one GPU pass, or the software pass
      for (const [gridRows, plan] of [[300, 'gpu'], [200, 'gpu'], [300, 'software']] as const) {
        const tokenIo = { dX: arena.f32(`t-dx-${gridRows}`, gridRows * 8), visiblePatches: arena.f32(`t-vis-${gridRows}`, gridRows), patchToVisible: arena.f32(`t-p2v-${gridRows}`, gridRows), dP: arena.f32(`t-dp-${gridRows}`, gridRows * 8), dMaskToken: arena.f32(`t-dt-${gridRows}`, 8) };
        const ds = await maskTokenFillBackward(engine, arena, `token-${gridRows}-${plan}`, tokenIo, { N: 1, L: gridRows, V: gridRows / 2, D: 8, accumulate: true, plan });
        expect(total(ds)).toBe(gridRows * 8 + 8);
      }
    } finally {
      arena.destroy();
    }
  });
});
