// The shared model / step options of the CLI, --grn in particular: per-sample | batch choose GRN
// statistics, off builds blocks without GRN, and a model read from a file refuses a --grn that
// contradicts it.
import { describe, expect, it } from 'vitest';
import { Options, UsageError } from '../../../src/cli/args.ts';
import { checkGrnOption, checkpointModelConfig, MODEL_OPTION_SPEC, modelConfigFromOptions, STEP_OPTION_SPEC, stepOptionsFrom } from '../../../src/cli/model-options.ts';
import type { CheckpointModelConfig, LoadReport } from '../../../src/io/name-schemes.ts';

const parse = (...argv: string[]) => Options.parse('train', argv, { ...MODEL_OPTION_SPEC, ...STEP_OPTION_SPEC });
const TINY = ['--depths', '1,1,1,1', '--dims', '8,16,24,32', '--decoder-dim', '16'];

function checkpoint(grn: boolean | undefined): { fileName: string; config: CheckpointModelConfig; report: LoadReport } {
  const config: CheckpointModelConfig = { depths: [1, 1, 1, 1], dims: [8, 16, 24, 32], decoderDepth: 1, decoderDim: 16, numClasses: null, grn };
  const report: LoadReport = { fileName: 'run.safetensors', scheme: 'canonical', config, size: null, loaded: [], missing: [], unexpected: [], misShaped: [], decoderInFile: true, classifier: [], notes: [] };
  return { fileName: 'run.safetensors', config, report };
}

function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof UsageError) return e.message;
    throw e;
  }
  throw new Error('expected a UsageError');
}

describe('--grn', () => {
  it('per-sample (default) and batch choose the statistics of a model with GRN', () => {
    expect(modelConfigFromOptions(parse(...TINY)).grn).toBe(true);
    expect(stepOptionsFrom(parse(...TINY)).grnMode).toBe('per-sample');
    const o = parse(...TINY, '--grn', 'batch');
    expect([modelConfigFromOptions(o).grn, stepOptionsFrom(o).grnMode]).toEqual([true, 'batch']);
  });

  it('off builds blocks without GRN, for --model and --depths/--dims alike', () => {
    const custom = parse(...TINY, '--grn', 'off');
    expect(modelConfigFromOptions(custom)).toMatchObject({ depths: [1, 1, 1, 1], dims: [8, 16, 24, 32], decoderDim: 16, grn: false });
    expect(stepOptionsFrom(custom).grnMode).toBe('per-sample'); // unused without GRN
    expect(modelConfigFromOptions(parse('--model', 'femto', '--grn', 'off'))).toMatchObject({ size: 'femto', grn: false });
    expect(modelConfigFromOptions(parse('--grn', 'off'), 'atto')).toMatchObject({ size: 'atto', grn: false });
  });

  it('anything else is refused naming the choices', () => {
    expect(usageError(() => stepOptionsFrom(parse(...TINY, '--grn', 'none')))).toBe('train: --grn none: expected one of per-sample, batch, off');
    expect(usageError(() => modelConfigFromOptions(parse(...TINY, '--grn', 'false')))).toMatch(/--grn false: expected one of per-sample, batch, off/);
  });

  it('a model from a file keeps its GRN on/off; a contradicting --grn is refused', () => {
    expect(checkpointModelConfig(parse(), checkpoint(false)).grn).toBe(false);
    expect(checkpointModelConfig(parse(), checkpoint(true)).grn).toBe(true);
    expect(checkpointModelConfig(parse(), checkpoint(undefined)).grn).toBe(true); // absent: GRN
    expect(checkpointModelConfig(parse('--grn', 'off'), checkpoint(false)).grn).toBe(false);
    expect(checkpointModelConfig(parse('--grn', 'batch'), checkpoint(true)).grn).toBe(true);
    expect(usageError(() => checkpointModelConfig(parse('--grn', 'off'), checkpoint(true)))).toBe(
      "train: --grn off: run.safetensors's blocks have GRN; --grn off builds a new model without it (drop the option)",
    );
    expect(usageError(() => checkGrnOption(parse('--grn', 'per-sample'), 'run.safetensors', false))).toBe(
      "train: --grn per-sample: run.safetensors's blocks have no GRN, so there are no GRN statistics to choose (drop the option)",
    );
  });
});
