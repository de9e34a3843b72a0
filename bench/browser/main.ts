// The browser benchmark page: our engine (main thread, same WGSL kernels as the worker) and
// TensorFlow.js's WebGPU backend in one page, on the same adapter. It runs the suites named in
// the query string, shows the report and leaves `window.__bench` = { done, text, json, error }
// for the headless driver (run.ts). Progress lines also go to console.log.
// Query: suite=matmul,step,peer,sweep,kernels  model=atto  size=96  batch=2  ratio=0.6
//        steps=5  warmup=1  sweep=0,0.6,0.75  quick=1 (matmul 256/512, quick kernel suite)
import { defaultKernelSuite, runKernelSuite, type KernelResult } from '../../src/bench/kernel-suite.ts';
import { compareMatmul } from '../../src/bench/matmul-compare.ts';
import {
  kernelJson,
  kernelTable,
  matmulComparisonTable,
  matmulJson,
  peerJson,
  peerReport,
  stepReport,
  stepResultJson,
  sweepJson,
  sweepTable,
  type MatmulComparison,
} from '../../src/bench/report.ts';
import { benchStep, benchSweep, comparePeer, type PeerComparison, type StepBenchResult, type StepBenchSettings } from '../../src/bench/step-bench.ts';
import { DEFAULT_TIMING } from '../../src/bench/timing.ts';
import { tfjsAdapterName } from '../../src/bench/tfjs-peer.ts';
import { acquireGpu, adapterLabel } from '../../src/gpu/device.ts';
import { createEngine } from '../../src/gpu/engine.ts';
import { bundledShaders } from '../../src/gpu/shader-library-vite.ts';
import { DEFAULT_STEP_OPTIONS, modelConfig, SIZE_NAMES, type SizeName } from '../../src/model/config.ts';
import { loadTf } from './tfjs.js';

interface BenchState {
  done: boolean;
  text: string;
  json: unknown;
  error: string | null;
}

declare global {
  interface Window {
    __bench: BenchState;
  }
}

const state: BenchState = { done: false, text: '', json: null, error: null };
window.__bench = state;
const logEl = document.getElementById('log')!;
const reportEl = document.getElementById('report')!;

function log(line: string): void {
  console.log(line);
  logEl.textContent += line + '\n';
}

function query() {
  const q = new URLSearchParams(location.search);
  const num = (name: string, fallback: number) => {
    const raw = q.get(name);
    if (raw === null) return fallback;
    const v = Number(raw);
    if (!Number.isFinite(v)) throw new Error(`query parameter ${name}=${raw} is not a number`);
    return v;
  };
  const model = (q.get('model') ?? 'atto') as SizeName;
  if (!SIZE_NAMES.includes(model)) throw new Error(`query parameter model=${model}: expected one of ${SIZE_NAMES.join(', ')}`);
  const suites = (q.get('suite') ?? 'matmul,step,peer').split(',').map((s) => s.trim());
  for (const s of suites) if (!['matmul', 'step', 'peer', 'sweep', 'kernels'].includes(s)) throw new Error(`unknown suite '${s}' (matmul, step, peer, sweep, kernels)`);
  return {
    suites,
    model,
    size: num('size', 96),
    batch: num('batch', 2),
    ratio: num('ratio', 0.6),
    steps: num('steps', 5),
    warmup: num('warmup', 1),
    sweep: (q.get('sweep') ?? '0,0.6,0.75').split(',').map(Number),
    quick: q.get('quick') === '1',
  };
}

async function main(): Promise<void> {
  const q = query();
  const ctx = await acquireGpu(navigator.gpu);
  const engine = createEngine(ctx, bundledShaders);
  const adapter = adapterLabel(ctx.adapter);
  log(`adapter: ${adapter}; timestamp-query: ${ctx.hasTimestamps ? 'yes' : 'no'}`);
  const needsTf = q.suites.includes('matmul') || q.suites.includes('peer');
  const tf = needsTf ? await loadTf() : null;
  if (tf) log(`TF.js ${tf.getBackend()} backend on ${tfjsAdapterName(tf)}`);
  const timing = q.quick ? { ...DEFAULT_TIMING, budgetMs: 400, maxSamples: 10 } : DEFAULT_TIMING;
  const base: StepBenchSettings = {
    config: modelConfig(q.model),
    batchSize: q.batch,
    height: q.size,
    width: q.size,
    maskRatio: q.ratio,
    options: DEFAULT_STEP_OPTIONS,
    steps: q.steps,
    warmupSteps: q.warmup,
    seed: 0,
    phaseTiming: 'auto',
  };
  const text: string[] = [`browser benchmark, ${navigator.userAgent}`, `adapter: ${adapter} (timestamp-query: ${ctx.hasTimestamps ? 'yes' : 'no'}); ${new Date().toISOString()}`];
  const json: Record<string, unknown> = { adapter, adapter_info: ctx.adapter, timestamps: ctx.hasTimestamps, user_agent: navigator.userAgent, date: new Date().toISOString(), query: location.search };

  if (q.suites.includes('matmul') && tf) {
    const rows: MatmulComparison[] = [];
    for (const n of q.quick ? [256, 512] : [512, 1024]) {
      log(`matmul ${n}³: ours vs TF.js`);
      rows.push(await compareMatmul(engine, tf, n, timing));
    }
    text.push('', `matmul vs TensorFlow.js WebGPU (same page, same adapter); speed ratio on wall-clock medians:`, matmulComparisonTable(rows));
    json.matmul_vs_tfjs = rows.map(matmulJson);
  }
  if (q.suites.includes('step')) {
    log(`step benchmark: ${q.model}, ${q.size} px, batch ${q.batch}, ratio ${q.ratio}`);
    const r = await benchStep(engine, base, log);
    text.push('', stepReport(r, adapter));
    json.step = stepResultJson(r);
  }
  if (q.suites.includes('peer') && tf) {
    log(`TF.js peer: ${q.model}, ${q.size} px, batch ${q.batch}, ratio ${q.ratio}`);
    const p: PeerComparison = await comparePeer(engine, tf, base, log);
    text.push('', peerReport(p, adapter));
    json.peer = peerJson(p);
  }
  if (q.suites.includes('sweep')) {
    log(`sweep: ratios ${q.sweep.join(', ')} (steps interleaved)`);
    const results: StepBenchResult[] = await benchSweep(engine, base, q.sweep, log);
    text.push('', `mask-ratio sweep (${q.model}, ${q.size} px, batch ${q.batch}):`, sweepTable(results));
    json.sweep = sweepJson(results);
  }
  if (q.suites.includes('kernels')) {
    const suite = defaultKernelSuite(q.quick);
    suite.onResult = (r: KernelResult) => log(`  ${r.family} ${r.name} (ratio ${r.maskRatio ?? '-'}): ${r.timing.ms.median.toFixed(3)} ms`);
    const rows = await runKernelSuite(engine, suite);
    text.push('', `kernels at ${suite.config.size} shapes, ${suite.inputSize} px, batch ${suite.batchSize}:`, kernelTable(rows));
    json.kernels = rows.map(kernelJson);
  }
  state.text = text.join('\n');
  state.json = json;
  reportEl.textContent = state.text;
}

main()
  .catch((e: unknown) => {
    state.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    reportEl.textContent = `benchmark failed: ${state.error}`;
    console.error(e);
  })
  .finally(() => {
    state.done = true;
  });
