// Where the time of one FCMAE training step goes, dispatch by dispatch: builds the plan of the
// tiny net (depths 1,1,1,1, dims 16,24,32,48, decoder 16×1, 64 px, batch 4) or of atto (96 px,
// batch 2), runs two real steps, then times every dispatch of the step alone (its own submit,
// median of 5), and prints the sum, the time per kernel kind and the slowest dispatches. The
// sum leaves out what a whole step adds (cold caches, the loss readback), so it is below the
// bench's step time; it answers "which kernels", the bench answers "how long".
// --gpu-plan builds the plan a GPU adapter gets (the adapter's software flag cleared), to count
// and time its dispatches here (minutes for atto on a CPU driver: the GPU kernels have
// barriers). Usage: npx tsx scripts/dispatch-times.ts tiny|atto [--gpu-plan]
import { acquireNodeGpu } from '../src/gpu/node-device.ts';
import { createEngine } from '../src/gpu/engine.ts';
import { loadShadersFromDisk } from '../src/gpu/shader-library-node.ts';
import { encodeDispatches } from '../src/gpu/dispatch.ts';
import { customConfig, modelConfig, DEFAULT_STEP_OPTIONS } from '../src/model/config.ts';
import { Trainer } from '../src/train/trainer.ts';

const tiny = process.argv[2] === 'tiny';
if (!tiny && process.argv[2] !== 'atto') {
  console.error('usage: npx tsx scripts/dispatch-times.ts tiny|atto [--gpu-plan]');
  process.exit(2);
}
const ctx = await acquireNodeGpu();
const gpuPlan = process.argv.includes('--gpu-plan');
if (gpuPlan) ctx.adapter = { ...ctx.adapter, isSoftware: false };
const engine = createEngine(ctx, loadShadersFromDisk());
const config = tiny ? customConfig([1, 1, 1, 1], [16, 24, 32, 48], 16, 1) : modelConfig('atto');
const size = tiny ? 64 : 96;
const N = tiny ? 4 : 2;
const L = (size / 32) ** 2;
const visible = Math.max(1, Math.floor(L * 0.4));
const trainer = await Trainer.create(engine, { config, batchSize: N, height: size, width: size, visible, options: DEFAULT_STEP_OPTIONS, learningRate: () => 1e-4, seed: 1 });
const images = new Float32Array(N * 3 * size * size).map((_, i) => Math.sin(i));
await trainer.step(images);
await trainer.step(images);

const { plan } = trainer;
const device = engine.ctx.device;
const REPS = 5;
const rows: { label: string; ms: number; grid: string }[] = [];
for (const phase of [...plan.forwardPhases, ...plan.backwardPhases, plan.optimizerPhase]) {
  for (const d of phase.dispatches) {
    const times: number[] = [];
    for (let r = 0; r < REPS; r++) {
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      encodeDispatches(pass, [d]);
      pass.end();
      const t = performance.now();
      device.queue.submit([encoder.finish()]);
      await device.queue.onSubmittedWorkDone();
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    rows.push({ label: d.label, ms: times[REPS >> 1]!, grid: d.workgroups.join('×') });
  }
}
const total = rows.reduce((s, r) => s + r.ms, 0);
console.log(`${tiny ? 'tiny net' : 'atto'}: ${rows.length} dispatches, sum of their isolated medians ${total.toFixed(1)} ms (${gpuPlan ? 'the GPU plan on this adapter' : engine.ctx.adapter.isSoftware ? 'software plan' : 'GPU'})`);
const byKind = new Map<string, { ms: number; n: number }>();
for (const r of rows) {
  const kind = r.label.replace(/^.*?\//, '').replace(/[0-9]+/g, '#');
  const k = byKind.get(kind) ?? { ms: 0, n: 0 };
  k.ms += r.ms;
  k.n++;
  byKind.set(kind, k);
}
console.log('\nby kind:');
for (const [kind, k] of [...byKind].sort((a, b) => b[1].ms - a[1].ms).slice(0, 20)) console.log(`${k.ms.toFixed(1).padStart(8)} ms ${String(k.n).padStart(3)}× ${kind}`);
console.log('\nslowest dispatches:');
for (const r of [...rows].sort((a, b) => b.ms - a.ms).slice(0, 12)) console.log(`${r.ms.toFixed(2).padStart(8)} ms  ${r.label}  ${r.grid}`);
trainer.destroy();
process.exit(0);
