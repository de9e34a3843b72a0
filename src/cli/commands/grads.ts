// `grads`: the loss and every parameter gradient of one FCMAE step for a given checkpoint and
// batch, written under the checkpoint's own names, shapes and layouts.
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { openCheckpoint } from '../../io/checkpoint.ts';
import { fromCanonical } from '../../io/name-schemes.ts';
import { parseSafetensors, writeSafetensors } from '../../io/safetensors.ts';
import { customConfig } from '../../model/config.ts';
import { flatFromStateDict, stateDictFromFlat } from '../../model/state-dict.ts';
import { initialParams, paramTable as paramTableOf } from '../../model/parameters.ts';
import { Trainer } from '../../train/trainer.ts';
import { Random } from '../../util/random.ts';
import { Options, UsageError } from '../args.ts';
import { checkGrnOption, checkpointProblems, STEP_OPTION_SPEC, stepOptionsFrom } from '../model-options.ts';
import type { CliContext } from '../context.ts';

export const gradsUsage = `grads --checkpoint FILE --batch FILE --out FILE [--grn per-sample|batch|off] [--gelu erf|tanh] [--norm-pix true|false] [--dense-encoder true|false]`;

export interface LoadedBatch {
  imgs: Float32Array;
  mask: Float32Array;
  N: number;
  height: number;
  width: number;
  L: number;
  visible: number;
}

/** Reads and validates a batch file: imgs (N,3,H,W) normalised, mask (N,L) 1 = masked. */
export function readBatchFile(path: string): LoadedBatch {
  const name = basename(path);
  const file = parseSafetensors(new Uint8Array(readFileSync(path)), { source: name });
  const imgs = file.tensors.get('imgs');
  const mask = file.tensors.get('mask');
  if (!imgs) throw new UsageError(`${name}: no tensor 'imgs' (N, 3, H, W)`);
  if (!mask) throw new UsageError(`${name}: no tensor 'mask' (N, L)`);
  if (imgs.shape.length !== 4 || imgs.shape[1] !== 3) throw new UsageError(`${name}: imgs has shape (${imgs.shape}), expected (N, 3, H, W)`);
  const [N, , height, width] = imgs.shape as [number, number, number, number];
  if (height % 32 || width % 32) throw new UsageError(`${name}: imgs is ${height}×${width}; both sides must be multiples of 32`);
  const L = (height / 32) * (width / 32);
  if (mask.shape.length !== 2 || mask.shape[0] !== N || mask.shape[1] !== L) throw new UsageError(`${name}: mask has shape (${mask.shape}), expected (${N}, ${L})`);
  let masked = -1;
  for (let n = 0; n < N; n++) {
    let m = 0;
    for (let p = 0; p < L; p++) {
      const v = mask.data[n * L + p]!;
      if (v !== 0 && v !== 1) throw new UsageError(`${name}: mask[${n}, ${p}] = ${v}; entries must be 0 or 1`);
      m += v;
    }
    if (masked >= 0 && m !== masked) throw new UsageError(`${name}: sample ${n} masks ${m} patches, sample 0 masks ${masked}; FCMAE needs the same count`);
    masked = m;
  }
  if (masked === L) throw new UsageError(`${name}: every patch is masked`);
  return { imgs: imgs.data, mask: mask.data, N, height, width, L, visible: L - masked };
}

export async function gradsCommand(argv: string[], cli: CliContext): Promise<void> {
  const o = Options.parse('grads', argv, {
    checkpoint: { type: 'string' },
    batch: { type: 'string' },
    out: { type: 'string' },
    ...STEP_OPTION_SPEC,
  });
  const ckptPath = o.string('checkpoint');
  const batch = readBatchFile(o.string('batch'));
  const out = o.string('out');
  const options = stepOptionsFrom(o);
  const ckpt = openCheckpoint(new Uint8Array(readFileSync(ckptPath)), basename(ckptPath));
  const c = ckpt.config;
  checkGrnOption(o, ckpt.fileName, c.grn ?? true);
  const config = customConfig(c.depths, c.dims, c.decoderDim, c.decoderDepth, c.grn ?? true);
  const problems = [...checkpointProblems(ckpt.report), ...ckpt.report.unexpected.map((n) => `unexpected ${n}`)];
  if (!ckpt.report.decoderInFile) problems.push('the checkpoint has no decoder: gradients of an FCMAE step need one');
  if (problems.length) throw new UsageError(`${ckpt.fileName}: ${problems.join('; ')}`);

  const engine = await cli.engine();
  const trainer = await Trainer.create(engine, {
    config,
    batchSize: batch.N,
    height: batch.height,
    width: batch.width,
    maskRatio: 1 - batch.visible / batch.L,
    options,
    learningRate: () => 0,
    seed: 0,
  }, initialParams(paramTableOf(config), new Random(0)));
  try {
    if (trainer.plan.V !== batch.visible) throw new UsageError(`internal: plan keeps ${trainer.plan.V} patches, batch keeps ${batch.visible}`);
    const { flat, problems: p2 } = flatFromStateDict(trainer.plan.table, ckpt.tensors);
    if (p2.missing.length || p2.misshaped.length) throw new UsageError(`${ckpt.fileName}: cannot map to the engine: ${[...p2.missing, ...p2.misshaped.map((m) => m.name)].join(', ')}`);
    trainer.plan.setParams(flat);
    const { loss, grads } = await trainer.gradients(batch.imgs, batch.mask);
    const canonicalGrads = stateDictFromFlat(trainer.plan.table, grads);
    const inFileLayout = fromCanonical(canonicalGrads, ckpt.scheme).tensors;
    const tensors: { name: string; shape: number[]; data: Float32Array }[] = [{ name: 'loss', shape: [], data: Float32Array.of(loss) }];
    for (const [name, t] of ckpt.original) {
      const g = inFileLayout.get(name);
      if (!g) throw new UsageError(`${ckpt.fileName}: no gradient computed for ${name}`);
      if (g.shape.join() !== t.shape.join()) throw new Error(`internal: gradient of ${name} has shape (${g.shape}), checkpoint (${t.shape})`);
      tensors.push({ name, shape: t.shape, data: g.data });
    }
    writeFileSync(out, writeSafetensors(tensors, { scheme: ckpt.scheme, source: ckpt.fileName, options: JSON.stringify(options) }));
    cli.log(`loss ${loss.toPrecision(7)}; ${tensors.length - 1} gradients (${ckpt.scheme} layout) written to ${out}`);
  } finally {
    trainer.destroy();
  }
}
