// Pipelined throughput of the step benchmark: the same steps run through the training loop's
// step window (src/train/step-loop.ts) at depth d, so the next step's upload and encoding, and its
// GPU work, queue behind the current one as in `train` and the browser worker (depth 2), instead
// of one step at a time (the per-step wall time of step-bench.ts, depth 1).
// Throughput is measured in the steady state: a burst of steps + 1 steps, and the time from the
// delivery of its first loss to that of its last, over `steps` intervals; the first step's
// latency (the window filling) is left out at every depth alike. Depth 1 is measured the same
// way beside the others, so the ratios compare like with like. Bursts of the depths alternate in
// rounds so a change in background load hits every depth alike.
// No Node or DOM imports: the CLI and the browser bench page share it.
import { runStepLoop, type QueuedStep } from '../train/step-loop.ts';
import { summarize, type Summary } from './stats.ts';

/** Steps in flight at most; past a few, a deeper window only queues more and costs memory for nothing. */
export const MAX_IN_FLIGHT_DEPTH = 8;

export interface PipelinedResult {
  /** Steps submitted and not yet delivered, at most. */
  depth: number;
  /** Steady-state ms between two delivered losses, median over the rounds. */
  stepMs: Summary;
  imagesPerSecond: number;
}

/** Checks a list of in-flight depths (the bench's --in-flight): integers 1..MAX_IN_FLIGHT_DEPTH, no repeats. */
export function checkInFlightDepths(depths: readonly number[]): number[] {
  for (const d of depths) {
    if (!Number.isInteger(d) || d < 1 || d > MAX_IN_FLIGHT_DEPTH) throw new RangeError(`in-flight depth ${d}: expected an integer from 1 to ${MAX_IN_FLIGHT_DEPTH}`);
  }
  if (new Set(depths).size !== depths.length) throw new RangeError(`in-flight depths ${depths.join(',')}: a depth is repeated`);
  return [...depths];
}

/**
 * Throughput at each depth of `depths` (depth 1 added first when absent): `rounds` rounds, each a
 * burst of steps + 1 steps per depth; `submit` queues one step (any step: the bench's steps are
 * alike), `take` sees each result (a loss check), the first failure is thrown.
 */
export async function measurePipelined<R>(
  depths: readonly number[],
  o: { steps: number; rounds: number; batchSize: number; submit: () => QueuedStep<R>; take?: (r: R) => void; log?: (line: string) => void },
): Promise<PipelinedResult[]> {
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new RangeError(`pipelined bench: steps = ${o.steps} must be a positive integer`);
  const all = checkInFlightDepths(depths.includes(1) ? depths : [1, ...depths]);
  const samples = new Map<number, number[]>(all.map((d) => [d, []]));
  for (let round = 0; round < o.rounds; round++) {
    for (const depth of all) {
      const delivered: number[] = [];
      const end = await runStepLoop<void, R>(
        {
          submit: () => o.submit(),
          deliver: (r) => {
            delivered.push(performance.now());
            o.take?.(r);
          },
        },
        { first: 1, last: o.steps + 1, depth },
      );
      if (end.failure) throw end.failure.error;
      const ms = (delivered.at(-1)! - delivered[0]!) / o.steps;
      samples.get(depth)!.push(ms);
      o.log?.(`  ${depth} step(s) in flight, round ${round + 1}/${o.rounds}: ${ms.toFixed(1)} ms per step`);
    }
  }
  return all.map((depth) => {
    const stepMs = summarize(samples.get(depth)!);
    return { depth, stepMs, imagesPerSecond: o.batchSize / (stepMs.median / 1000) };
  });
}
