// `npm run bench:kernels [-- --json] [--quick] [--filter TEXT] [--no-tfjs] [--batch-size N] [--json-file F]`: every kernel
// family at ConvNeXt V2-atto shapes (224 px, batch 8, mask ratios 0 and 0.6) plus matmul
// against TensorFlow.js's WebGPU backend on the same adapter, in Node (Dawn). Progress goes to
// stderr; stdout gets the tables, or with --json one JSON document and nothing else.
// --quick: batch 1, matmul 512³ (TF.js at 256³ and 512³), shorter timing budgets: about
// 1–2 minutes on an idle SwiftShader. --json-file also writes the JSON document next to the tables.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { kernelJson, kernelTable, matmulComparisonTable, matmulJson, type MatmulComparison } from '../src/bench/report.ts';
import { defaultKernelSuite, runKernelSuite } from '../src/bench/kernel-suite.ts';
import { compareMatmul } from '../src/bench/matmul-compare.ts';
import { loadTfjsWebgpuNode } from '../src/bench/tfjs-node.ts';
import { tfjsAdapterName } from '../src/bench/tfjs-peer.ts';
import { ms, num } from '../src/bench/format.ts';
import { adapterLabel } from '../src/gpu/device.ts';
import { createEngine, destroyEngine } from '../src/gpu/engine.ts';
import { acquireNodeGpu } from '../src/gpu/node-device.ts';
import { loadShadersFromDisk } from '../src/gpu/shader-library-node.ts';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    filter: { type: 'string' },
    'no-tfjs': { type: 'boolean', default: false },
    'batch-size': { type: 'string' },
    'json-file': { type: 'string' },
  },
  strict: true,
});

const log = (line: string) => process.stderr.write(line + '\n');

async function main(): Promise<void> {
  const engine = createEngine(await acquireNodeGpu(), loadShadersFromDisk());
  const adapter = adapterLabel(engine.ctx.adapter);
  log(`adapter: ${adapter}; timestamps: ${engine.ctx.hasTimestamps ? 'yes' : 'no'}`);
  const suite = defaultKernelSuite(values.quick);
  if (values['batch-size']) suite.batchSize = Number(values['batch-size']);
  suite.filter = values.filter;
  suite.onResult = (r) => log(`  ${r.family} ${r.name} (ratio ${r.maskRatio ?? '-'}, ${r.shape}): ${ms(r.timing.ms.median)} ms, ${num(r.throughput)} ${r.unit}`);
  const t0 = performance.now();
  try {
    log(`kernels at ${suite.config.size ?? 'custom'} shapes, ${suite.inputSize} px, batch ${suite.batchSize}, mask ratios ${suite.maskRatios.join(', ')}`);
    const kernels = await runKernelSuite(engine, suite);
    const matmuls: MatmulComparison[] = [];
    let tfjsAdapter: string | null = null;
    let tfjsError: string | null = null;
    if (!values['no-tfjs']) {
      try {
        const tf = await loadTfjsWebgpuNode();
        tfjsAdapter = tfjsAdapterName(tf);
        for (const n of values.quick ? [256, 512] : [512, 1024]) {
          log(`matmul ${n}³: ours vs TF.js ...`);
          const m = await compareMatmul(engine, tf, n, suite.timing);
          log(`  ours ${ms(m.oursWallMs)} ms, TF.js ${ms(m.tfjsMs)} ms: ${num(m.speedup)}×`);
          matmuls.push(m);
        }
      } catch (e) {
        tfjsError = (e as Error).message;
        log(`TF.js comparison failed: ${tfjsError}`);
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    const doc =
      JSON.stringify(
        {
          adapter,
          adapter_info: engine.ctx.adapter,
          timestamps: engine.ctx.hasTimestamps,
          date: new Date().toISOString(),
          settings: { model: suite.config.size ?? suite.config, input_size: suite.inputSize, batch_size: suite.batchSize, mask_ratios: suite.maskRatios, quick: values.quick },
          kernels: kernels.map(kernelJson),
          matmul_vs_tfjs: matmuls.map(matmulJson),
          tfjs_adapter: tfjsAdapter,
          tfjs_error: tfjsError,
          seconds,
        },
        null,
        2,
      ) + '\n';
    if (values['json-file']) writeFileSync(values['json-file'], doc);
    if (values.json) {
      process.stdout.write(doc);
      return;
    }
    const out: string[] = [];
    out.push(`adapter: ${adapter} (timestamp-query: ${engine.ctx.hasTimestamps ? 'yes' : 'no'}); ${new Date().toISOString()}`);
    out.push(`kernels at ${suite.config.size ?? 'custom'} shapes, ${suite.inputSize} px, batch ${suite.batchSize}; rows = N·V·r²; ms = median per call (${kernels[0]?.timing.method ?? '-'}), spread = half the p10–p90 range`);
    out.push('', kernelTable(kernels));
    if (matmuls.length) out.push('', `matmul vs TensorFlow.js WebGPU (TF.js adapter: ${tfjsAdapter}); speed ratio on wall-clock medians:`, matmulComparisonTable(matmuls));
    if (tfjsError) out.push('', `TF.js comparison not run: ${tfjsError}`);
    out.push('', `total ${seconds.toFixed(0)} s`);
    process.stdout.write(out.join('\n') + '\n');
  } finally {
    destroyEngine(engine);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`bench-kernels: ${(e as Error).message}\n`);
    if (process.env.FCMAE_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(1);
  },
);
