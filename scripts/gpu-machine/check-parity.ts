// The model parity check of tests/gpu/model/fcmae-parity.test.ts, runnable without vitest, for
// the GPU machine (run.sh): the loss and every parameter gradient of one FCMAE step of each
// PyTorch fixture config, on whatever adapter acquireNodeGpu picks (the real GPU there, so the
// GPU-only kernel paths — tiled matmul, tiled depthwise conv, shared-memory reductions — are
// checked too). Prints one line per config and exits 1 on any mismatch.
//   tsx scripts/gpu-machine/check-parity.ts [--json]
import { createEngine, destroyEngine } from '../../src/gpu/engine.ts';
import { adapterLabel } from '../../src/gpu/device.ts';
import { acquireNodeGpu } from '../../src/gpu/node-device.ts';
import { loadShadersFromDisk } from '../../src/gpu/shader-library-node.ts';
import { stateDictFromFlat } from '../../src/model/state-dict.ts';
import { compareGradients, loadModelFixture, MODEL_FIXTURES, trainerForFixture } from '../../tests/helpers/model-fixtures.ts';

/** As in the vitest parity test: f32 engine vs f64 reference through a whole network. */
const LOSS_TOLERANCE = 1e-4;

const json = process.argv.includes('--json');
const engine = createEngine(await acquireNodeGpu(), loadShadersFromDisk());
const adapter = adapterLabel(engine.ctx.adapter);
const results: { config: string; loss: number; loss_ref: number; loss_rel_diff: number; worst_grad_rel_diff: number; worst_grad: string; failures: string[] }[] = [];
try {
  for (const name of MODEL_FIXTURES) {
    const f = loadModelFixture(name);
    const trainer = await trainerForFixture(engine, f);
    try {
      const { loss, grads } = await trainer.gradients(f.imgs, f.mask);
      const lossRel = Math.abs(loss - f.expected.loss) / Math.abs(f.expected.loss);
      const cmp = compareGradients(f.grads, stateDictFromFlat(trainer.plan.table, grads));
      const failures = [...cmp.failures];
      if (!(lossRel < LOSS_TOLERANCE)) failures.unshift(`loss ${loss} vs reference ${f.expected.loss} (relative ${lossRel.toExponential(2)})`);
      results.push({ config: name, loss, loss_ref: f.expected.loss, loss_rel_diff: lossRel, worst_grad_rel_diff: cmp.worst, worst_grad: cmp.worstName, failures });
    } finally {
      trainer.destroy();
    }
  }
} finally {
  destroyEngine(engine);
}
const failed = results.filter((r) => r.failures.length > 0);
if (json) {
  console.log(JSON.stringify({ adapter, passed: failed.length === 0, results }, null, 2));
} else {
  console.log(`FCMAE step vs PyTorch fixtures on ${adapter}`);
  for (const r of results) {
    console.log(`  ${r.failures.length ? 'FAIL' : 'ok  '} ${r.config.padEnd(22)} loss rel diff ${r.loss_rel_diff.toExponential(2)}, worst gradient ${r.worst_grad_rel_diff.toExponential(2)} of its max (${r.worst_grad})`);
    for (const line of r.failures) console.log(`       ${line}`);
  }
  console.log(failed.length ? `${failed.length} of ${results.length} configs differ` : `all ${results.length} configs match`);
}
process.exit(failed.length ? 1 : 0);
