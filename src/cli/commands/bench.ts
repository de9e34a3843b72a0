// `bench`: the FCMAE step benchmark in Node (Dawn). One config at one mask ratio, a sweep of
// ratios (step-time ratios against ratio 0), a checkpoint + batch file (times exactly what
// `grads` computes), and optionally the TensorFlow.js peer on the same adapter.
// `--task finetune` times the classification step instead (src/bench/classifier-bench.ts), and
// with --compare-pretrain the FCMAE step of the same encoder, interleaved with it.
// `--freeze-encoder` times the step with the encoder frozen (decoder warm-up) against the full
// step, interleaved (src/bench/freeze-bench.ts).
// `--in-flight 2,3` (the default; `off` skips it): the throughput with that many steps in flight
// through the training loop, beside depth 1 (src/bench/pipelined.ts).
// Tables on stdout, progress on stderr; --json prints one JSON document and nothing else.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { benchClassifier, classifierBenchJson, classifierBenchReport } from '../../bench/classifier-bench.ts';
import { peerJson, peerReport, stepReport, stepResultJson, sweepJson, sweepTable } from '../../bench/report.ts';
import { benchSweep, comparePeer, type PeerComparison, type StepBenchResult, type StepBenchSettings } from '../../bench/step-bench.ts';
import { loadTfjsWebgpuNode } from '../../bench/tfjs-node.ts';
import { benchFreeze, freezeJson, freezeReport, type FreezeComparison } from '../../bench/freeze-bench.ts';
import type { Engine } from '../../gpu/engine.ts';
import { adapterLabel } from '../../gpu/device.ts';
import { openCheckpoint } from '../../io/checkpoint.ts';
import { customConfig } from '../../model/config.ts';
import { flatFromStateDict, paramTable } from '../../model/state-dict.ts';
import { Options, UsageError } from '../args.ts';
import type { CliContext } from '../context.ts';
import { readBatchFile } from '../batch-file.ts';
import { checkInputSize, checkMaskRatio } from '../shape-options.ts';
import { checkedRunConfig } from '../run-config-flags.ts';
import { cliDefaultRunConfig, trainingSettingsOf } from '../../train/run-config.ts';
import { describeVisible } from '../../train/masking.ts';
import { checkInFlightDepths, MAX_IN_FLIGHT_DEPTH } from '../../bench/pipelined.ts';
import { MODEL_OPTION_SPEC, STEP_OPTION_SPEC, checkGrnOption, modelConfigFromOptions, stepOptionsFrom } from '../model-options.ts';

const CMD = 'bench';

/** What an unset flag means: the run configuration's CLI defaults, as for `train`. */
const RUN_DEFAULTS = cliDefaultRunConfig();

export const benchUsage =
  'bench (--model NAME | --depths a,b,c,d --dims a,b,c,d [--decoder-dim D] [--decoder-depth K]) [--input-size PX] [--batch-size N] ' +
  '[--mask-ratio R | --sweep 0,0.6,0.75] [--grn per-sample|batch|off] [--freeze-encoder] [--steps S] [--warmup W] [--in-flight 2,3|off] [--peer tfjs] [--phase-timing auto|timestamps|prefix|off] [--seed N] [--json]\n' +
  '         bench --checkpoint FILE --batch FILE [--steps S] [--in-flight 2,3|off] [--json]   (times the step `grads` computes: forward, loss, backward)\n' +
  '         bench --task finetune (--model NAME | --depths … --dims …) [--input-size PX] [--batch-size N] [--classes K] [--drop-path P] ' +
  '[--compare-pretrain [--mask-ratio R] [--decoder-dim D] [--decoder-depth K]] [--steps S] [--warmup W] [--phase-timing auto|timestamps|off] [--seed N] [--json]   (the classification step)';

function ratioList(raw: string): number[] {
  const ratios = raw.split(',').map((s) => Number(s.trim()));
  if (!ratios.length || ratios.some((r) => !(r >= 0 && r < 1))) throw new UsageError(`${CMD}: --sweep ${raw}: expected mask ratios in [0, 1) separated by commas`);
  return ratios;
}

/** The in-flight depths whose pipelined throughput is measured (besides depth 1): `2,3` by default, none for `off`. */
export function inFlightDepthsOf(raw: string): number[] {
  if (raw.trim() === 'off') return [];
  const depths = raw.split(',').map((x) => Number(x.trim()));
  try {
    if (depths.some((d) => !Number.isInteger(d) || d < 2 || d > MAX_IN_FLIGHT_DEPTH)) throw new RangeError(`expected depths from 2 to ${MAX_IN_FLIGHT_DEPTH} separated by commas (depth 1 is always measured beside them), or off`);
    return checkInFlightDepths(depths);
  } catch (e) {
    throw new UsageError(`${CMD}: --in-flight ${raw}: ${(e as Error).message}`);
  }
}

const phaseTimingOf = (o: Options): StepBenchSettings['phaseTiming'] => {
  const v = o.choice('phase-timing', ['auto', 'timestamps', 'prefix', 'off'] as const, 'auto');
  return v === 'timestamps' ? 'gpu-timestamps' : v === 'prefix' ? 'prefix-differencing' : v;
};

export async function benchCommand(argv: string[], cli: CliContext): Promise<void> {
  const o = Options.parse(CMD, argv, {
    ...MODEL_OPTION_SPEC,
    'input-size': { type: 'string' },
    'batch-size': { type: 'string' },
    'mask-ratio': { type: 'string' },
    sweep: { type: 'string' },
    steps: { type: 'string' },
    warmup: { type: 'string' },
    seed: { type: 'string' },
    peer: { type: 'string' },
    'phase-timing': { type: 'string' },
    checkpoint: { type: 'string' },
    batch: { type: 'string' },
    json: { type: 'boolean' },
    task: { type: 'string' },
    classes: { type: 'string' },
    'drop-path': { type: 'string' },
    'compare-pretrain': { type: 'boolean' },
    'freeze-encoder': { type: 'boolean' },
    'in-flight': { type: 'string' },
    ...STEP_OPTION_SPEC,
  });
  if (o.choice('task', ['pretrain', 'finetune'] as const, 'pretrain') === 'finetune') return benchFinetune(o, argv, cli);
  for (const finetuneOnly of ['classes', 'drop-path', 'compare-pretrain']) {
    if (o.has(finetuneOnly)) throw new UsageError(`${CMD}: --${finetuneOnly} goes with --task finetune`);
  }
  const inFlight = inFlightDepthsOf(o.has('in-flight') ? o.string('in-flight') : '2,3');
  const json = o.bool('json', false);
  const progress = (line: string) => cli.warn(line);
  const steps = o.number('steps', 10, { integer: true, min: 1 });
  const warmupSteps = o.number('warmup', 1, { integer: true, min: 0 });
  const seed = o.number('seed', RUN_DEFAULTS.seed, { integer: true, min: 0, max: 2 ** 32 - 1 });
  const options = stepOptionsFrom(o);
  const phaseTiming = phaseTimingOf(o);
  const peer = o.has('peer') ? o.choice('peer', ['tfjs'] as const, 'tfjs') : null;
  // --freeze-encoder: the frozen-encoder step (decoder warm-up) timed against the full one, interleaved
  const freeze = o.has('freeze-encoder');
  if (freeze) {
    for (const conflicting of ['checkpoint', 'batch', 'sweep', 'peer', 'in-flight']) {
      if (o.has(conflicting)) throw new UsageError(`${CMD}: --${conflicting} does not go with --freeze-encoder (it times one training step frozen and full)`);
    }
  }

  let base: StepBenchSettings;
  let counts: number[]; // visible patches per sample, one plan each
  if (o.has('checkpoint') || o.has('batch')) {
    for (const conflicting of ['model', 'depths', 'dims', 'input-size', 'batch-size', 'mask-ratio', 'sweep', 'peer']) {
      if (o.has(conflicting)) throw new UsageError(`${CMD}: --${conflicting} does not go with --checkpoint/--batch (the files fix the model and the batch)`);
    }
    const ckptPath = o.string('checkpoint');
    const batch = readBatchFile(o.string('batch'));
    const ckpt = openCheckpoint(new Uint8Array(readFileSync(ckptPath)), basename(ckptPath));
    const c = ckpt.config;
    checkGrnOption(o, ckpt.fileName, c.grn ?? true);
    const config = customConfig(c.depths, c.dims, c.decoderDim, c.decoderDepth, c.grn ?? true);
    if (!ckpt.report.decoderInFile) throw new UsageError(`${ckpt.fileName}: the checkpoint has no decoder: an FCMAE step needs one`);
    const { flat, problems } = flatFromStateDict(paramTable(config), ckpt.tensors);
    if (problems.missing.length || problems.misshaped.length) throw new UsageError(`${ckpt.fileName}: cannot map to the engine: ${[...problems.missing, ...problems.misshaped.map((m) => m.name)].join(', ')}`);
    base = { config, batchSize: batch.N, height: batch.height, width: batch.width, visible: batch.visible, options, steps, warmupSteps, seed, phaseTiming, params: flat, batch: { images: batch.imgs, mask: batch.mask }, gradientsOnly: true };
    counts = [batch.visible];
  } else {
    const config = modelConfigFromOptions(o, 'atto');
    const size = o.number('input-size', RUN_DEFAULTS.inputSize, { integer: true, min: 32 });
    if (size % 32) throw new UsageError(`${CMD}: --input-size ${size} must be a multiple of 32`);
    const batchSize = o.number('batch-size', RUN_DEFAULTS.batchSize, { integer: true, min: 1 });
    if (o.has('sweep') && o.has('mask-ratio')) throw new UsageError(`${CMD}: give --mask-ratio or --sweep, not both`);
    const ratios = o.has('sweep') ? ratioList(o.string('sweep')) : [o.number('mask-ratio', RUN_DEFAULTS.maskRatio, { min: 0, max: 0.99 })];
    // the ratios become visible counts here, once
    counts = ratios.map((r) => checkMaskRatio(CMD, r, size));
    // every setting checked by the run configuration's owner, as `train` does
    ratios.forEach((maskRatio, i) => {
      const training = { ...trainingSettingsOf(RUN_DEFAULTS), inputSize: size, batchSize, maskRatio, visiblePatches: counts[i]!, seed };
      checkedRunConfig(CMD, config, options, training, RUN_DEFAULTS.evalImages);
    });
    base = { config, batchSize, height: size, width: size, visible: counts[0]!, options, steps, warmupSteps, seed, phaseTiming };
    // the peer (src/bench/tfjs-peer.ts) builds ConvNeXt V2 blocks, GRN included
    if (peer && !config.grn) throw new UsageError(`${CMD}: --peer tfjs: the TF.js peer implements blocks with GRN only (drop --grn off)`);
  }

  if (!freeze) base.inFlight = inFlight;
  const engine = await cli.engine();
  const adapter = adapterLabel(engine.ctx.adapter);
  if (freeze) return reportFreeze(await benchFreeze(engine, base, progress), { json, adapter, argv, engine, cli });
  const L = (base.height / 32) * (base.width / 32);
  progress(`bench: ${base.batch ? 'checkpoint step' : 'step'} at ${counts.map((v) => describeVisible(L, v)).join(', ')}${base.config.grn ? '' : ', blocks without GRN'}: ${warmupSteps} warm-up step(s), ${steps} timed step(s)${counts.length > 1 ? ' each, interleaved' : ''}`);
  const results: StepBenchResult[] = await benchSweep(engine, base, counts, progress);
  const peers: PeerComparison[] = [];
  if (peer) {
    const tf = await loadTfjsWebgpuNode();
    for (const visible of counts) {
      progress(`bench: TF.js peer at ${describeVisible(L, visible)}`);
      peers.push(await comparePeer(engine, tf, { ...base, visible }, progress));
    }
  }

  if (json) {
    cli.log(
      JSON.stringify(
        {
          adapter,
          adapter_info: engine.ctx.adapter,
          timestamps: engine.ctx.hasTimestamps,
          date: new Date().toISOString(),
          command: `fcmae bench ${argv.join(' ')}`,
          results: results.map(stepResultJson),
          sweep: results.length > 1 ? sweepJson(results) : undefined,
          peer: peers.length ? peers.map(peerJson) : undefined,
        },
        null,
        2,
      ),
    );
    return;
  }
  for (const r of results) cli.log(stepReport(r, adapter) + '\n');
  if (results.length > 1) cli.log(`mask-ratio sweep:\n${sweepTable(results)}\n`);
  for (const p of peers) cli.log(peerReport(p, adapter) + '\n');
}

/** `bench --freeze-encoder`: both steps' reports and the comparison table (or JSON). */
function reportFreeze(c: FreezeComparison, o: { json: boolean; adapter: string; argv: string[]; engine: Engine; cli: CliContext }): void {
  if (o.json) {
    const doc = {
      adapter: o.adapter,
      adapter_info: o.engine.ctx.adapter,
      timestamps: o.engine.ctx.hasTimestamps,
      date: new Date().toISOString(),
      command: `fcmae bench ${o.argv.join(' ')}`,
      results: [stepResultJson(c.full), stepResultJson(c.frozen)],
      freeze: freezeJson(c),
    };
    o.cli.log(JSON.stringify(doc, null, 2));
    return;
  }
  o.cli.log(stepReport(c.full, o.adapter) + '\n');
  o.cli.log(stepReport(c.frozen, o.adapter) + '\n');
  o.cli.log(freezeReport(c) + '\n');
}

/** `bench --task finetune`: the classification step, and with --compare-pretrain the FCMAE step of the same encoder. */
async function benchFinetune(o: Options, argv: string[], cli: CliContext): Promise<void> {
  for (const conflicting of ['checkpoint', 'batch', 'sweep', 'peer', 'norm-pix', 'dense-encoder', 'in-flight']) {
    if (o.has(conflicting)) throw new UsageError(`${CMD}: --${conflicting} does not go with --task finetune`);
  }
  const compare = o.bool('compare-pretrain', false);
  for (const pretrainOnly of ['mask-ratio', 'decoder-dim', 'decoder-depth']) {
    if (o.has(pretrainOnly) && !compare) throw new UsageError(`${CMD}: --${pretrainOnly} sets the FCMAE step of --compare-pretrain; add that flag or drop this one`);
  }
  const json = o.bool('json', false);
  const progress = (line: string) => cli.warn(line);
  const config = modelConfigFromOptions(o, 'atto');
  const inputSize = o.number('input-size', 224, { integer: true, min: 32 });
  checkInputSize(CMD, inputSize);
  const batchSize = o.number('batch-size', 1, { integer: true, min: 1 });
  const numClasses = o.number('classes', 1000, { integer: true, min: 2 });
  const dropPath = o.number('drop-path', 0, { min: 0, max: 0.99 });
  const steps = o.number('steps', 10, { integer: true, min: 1 });
  const warmupSteps = o.number('warmup', 1, { integer: true, min: 0 });
  const seed = o.number('seed', RUN_DEFAULTS.seed, { integer: true, min: 0, max: 2 ** 32 - 1 });
  const options = stepOptionsFrom(o);
  const timing = phaseTimingOf(o);
  if (timing === 'prefix-differencing') throw new UsageError(`${CMD}: --phase-timing prefix: --task finetune times phases with GPU timestamps only (auto, timestamps or off)`);
  let pretrain: { visible: number } | null = null;
  if (compare) {
    const maskRatio = o.number('mask-ratio', RUN_DEFAULTS.maskRatio, { min: 0, max: 0.99 });
    const visible = checkMaskRatio(CMD, maskRatio, inputSize);
    const training = { ...trainingSettingsOf(RUN_DEFAULTS), inputSize, batchSize, maskRatio, visiblePatches: visible, seed };
    checkedRunConfig(CMD, config, options, training, RUN_DEFAULTS.evalImages);
    pretrain = { visible };
  }

  const engine = await cli.engine();
  const adapter = adapterLabel(engine.ctx.adapter);
  progress(`bench: classification step${pretrain ? ' and the FCMAE step of the same encoder, interleaved' : ''}: ${warmupSteps} warm-up step(s), ${steps} timed step(s) each`);
  const result = await benchClassifier(engine, { config, numClasses, batchSize, inputSize, dropPath, options, steps, warmupSteps, seed, phaseTiming: timing, pretrain }, progress);
  if (json) {
    const doc = { adapter, adapter_info: engine.ctx.adapter, timestamps: engine.ctx.hasTimestamps, date: new Date().toISOString(), command: `fcmae bench ${argv.join(' ')}`, task: 'finetune', ...classifierBenchJson(result) };
    cli.log(JSON.stringify(doc, null, 2));
    return;
  }
  cli.log(classifierBenchReport(result, adapter) + '\n');
}
