// `grads`: the loss and every parameter gradient of one FCMAE step for a given checkpoint and
// batch, written under the checkpoint's own names, shapes and layouts.
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { openCheckpoint } from '../../io/checkpoint.ts';
import { inFileLayout } from '../../io/file-layout.ts';
import { writeSafetensors } from '../../io/safetensors.ts';
import { customConfig } from '../../model/config.ts';
import { flatFromStateDict, stateDictFromFlat } from '../../model/state-dict.ts';
import { initialParams, paramTable as paramTableOf } from '../../model/parameters.ts';
import { Trainer } from '../../train/trainer.ts';
import { Random } from '../../util/random.ts';
import { Options, UsageError } from '../args.ts';
import { readBatchFile } from '../batch-file.ts';
import { checkGrnOption, checkpointProblems, STEP_OPTION_SPEC, stepOptionsFrom } from '../model-options.ts';
import type { CliContext } from '../context.ts';

export const gradsUsage = `grads --checkpoint FILE --batch FILE --out FILE [--grn per-sample|batch|off] [--gelu erf|tanh] [--norm-pix true|false] [--dense-encoder true|false]`;

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
    visible: batch.visible,
    options,
    learningRate: () => 0,
    seed: 0,
  }, initialParams(paramTableOf(config), new Random(0)));
  try {
    const { flat, problems: p2 } = flatFromStateDict(trainer.plan.table, ckpt.tensors);
    if (p2.missing.length || p2.misshaped.length) throw new UsageError(`${ckpt.fileName}: cannot map to the engine: ${[...p2.missing, ...p2.misshaped.map((m) => m.name)].join(', ')}`);
    trainer.plan.setParams(flat);
    const { loss, grads } = await trainer.gradients(batch.imgs, batch.mask);
    const inFile = inFileLayout(stateDictFromFlat(trainer.plan.table, grads), ckpt).tensors;
    const tensors: { name: string; shape: number[]; data: Float32Array }[] = [{ name: 'loss', shape: [], data: Float32Array.of(loss) }];
    for (const name of ckpt.original.keys()) {
      const g = inFile.get(name);
      if (!g) throw new UsageError(`${ckpt.fileName}: no gradient computed for ${name}`);
      tensors.push({ name, shape: g.shape, data: g.data });
    }
    writeFileSync(out, writeSafetensors(tensors, { scheme: ckpt.scheme, source: ckpt.fileName, options: JSON.stringify(options) }));
    cli.log(`loss ${loss.toPrecision(7)}; ${tensors.length - 1} gradients (${ckpt.scheme} layout) written to ${out}`);
  } finally {
    trainer.destroy();
  }
}
