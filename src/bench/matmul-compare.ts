// Square matmul, ours against TF.js's WebGPU backend on the same adapter in the same process
// (or page). Samples alternate (ours, TF.js, ours, …) so both see the same background load
// (the CI-sized machine is shared). The ratio uses wall-clock medians on both sides (calls
// queued, then a readback fence), the one method both can use, and our wall-clock samples
// carry no timestamp queries (on an H100 they added ~50% to a 1024³ call); our GPU-timestamp
// time is measured separately and reported beside it.
import { BufferArena } from '../gpu/buffers.ts';
import type { Engine } from '../gpu/engine.ts';
import { matmulDispatches } from '../ops/matmul.ts';
import { Random } from '../util/random.ts';
import type { MatmulComparison } from './report.ts';
import { repetitionsFor, summarize } from './stats.ts';
import { TfjsMatmulSampler, type Tf } from './tfjs-peer.ts';
import { callsPerSubmit, DispatchSampler, type TimingOptions } from './timing.ts';

export async function compareMatmul(engine: Engine, tf: Tf, n: number, timing: TimingOptions): Promise<MatmulComparison> {
  const arena = new BufferArena(engine.ctx.device, `bench/matmul-${n}`);
  const theirs = new TfjsMatmulSampler(tf, n);
  let ours: DispatchSampler | null = null;
  let oursGpu: DispatchSampler | null = null;
  try {
    const rng = new Random(n);
    const a = arena.fromData('a', rng.uniformArray(n * n)); // (n, n)
    const b = arena.fromData('b', rng.uniformArray(n * n)); // (n, n)
    const c = arena.f32('c', n * n); // (n, n)
    const dispatches = await matmulDispatches(engine, arena, `matmul ${n}`, a, b, c, { M: n, N: n, K: n });
    ours = new DispatchSampler(engine, `matmul ${n}³`, dispatches, false);
    if (engine.ctx.hasTimestamps) oursGpu = new DispatchSampler(engine, `matmul ${n}³ (timestamps)`, dispatches, true);
    // warm-up (pipeline compilation on both sides), then one probe each
    await ours.sample(1);
    await theirs.sample(1);
    const probeOurs = await ours.sample(1);
    const probeTheirs = await theirs.sample(1);
    const callsOurs = callsPerSubmit(probeOurs.wall, timing.targetSubmitMs);
    const callsTheirs = callsPerSubmit(probeTheirs, timing.targetSubmitMs);
    const reps = repetitionsFor(probeOurs.wall * callsOurs + probeTheirs * callsTheirs, 2 * timing.budgetMs, timing.minSamples, timing.maxSamples);
    const wall = [probeOurs.wall];
    const gpu: number[] = [];
    const tfjs = [probeTheirs];
    for (let r = 0; r < reps; r++) {
      wall.push((await ours.sample(callsOurs)).wall);
      tfjs.push(await theirs.sample(callsTheirs));
      if (oursGpu) gpu.push(...(await oursGpu.sample(callsOurs)).gpu);
    }
    const oursWall = summarize(wall);
    const oursMs = gpu.length ? summarize(gpu) : oursWall;
    const t = summarize(tfjs);
    return {
      n,
      flops: 2 * n ** 3,
      oursMs: oursMs.median,
      oursSpread: oursMs.relSpread,
      oursWallMs: oursWall.median,
      tfjsMs: t.median,
      tfjsSpread: t.relSpread,
      speedup: t.median / oursWall.median,
    };
  } finally {
    ours?.destroy();
    oursGpu?.destroy();
    theirs.dispose();
    arena.destroy();
  }
}
