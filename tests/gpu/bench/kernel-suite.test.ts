// The kernel benchmark on a tiny model: every case runs and reports a positive throughput, and
// the GFLOP/s cases count their work as their dispatches do (the step ledger's FLOPs), not by
// a formula of their own.
import { describe, expect, it } from 'vitest';
import { runKernelSuite } from '../../../src/bench/kernel-suite.ts';
import { customConfig } from '../../../src/model/config.ts';
import { testEngine } from '../../helpers/gpu.ts';

describe('kernel suite', () => {
  it('runs every case of a tiny model; FLOP figures are the dispatches\' own', async () => {
    const engine = await testEngine();
    const rows = await runKernelSuite(engine, {
      config: customConfig([1, 1, 1, 1], [8, 16, 24, 32], 16, 1),
      batchSize: 1,
      inputSize: 64,
      maskRatios: [0.5],
      squareMatmuls: [64],
      timing: { budgetMs: 5, minSamples: 1, maxSamples: 1, targetSubmitMs: 1 },
      filter: undefined,
    });
    expect(rows.length).toBeGreaterThan(10);
    for (const r of rows) expect(r.throughput, `${r.family} ${r.name}`).toBeGreaterThan(0);
    const square = rows.find((r) => r.name === 'square 64³')!;
    expect(square.work).toBe(2 * 64 ** 3); // no bias, no accumulate: exactly 2·M·N·K
    const dw = rows.find((r) => r.family === 'dwconv' && r.name === 'r=8 forward')!;
    // 49 taps, 2 FLOPs each, per output of the (N·V·64, 8) rows, plus the bias (1 per output)
    expect(dw.work).toBe((2 * 49 + 1) * 2 * 64 * 8);
  }, 120_000);
});
