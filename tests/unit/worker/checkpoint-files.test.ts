// The worker's checkpoint files without a GPU: a run's state written in each format reads back
// into the same configuration and state (moments only where the format holds them), and a file
// that does not fit is refused naming why.
import { describe, expect, it } from 'vitest';
import { initialParams, paramTable } from '../../../src/model/parameters.ts';
import { defaultRunConfig, modelOf, type RunConfig } from '../../../src/train/run-config.ts';
import { Random } from '../../../src/util/random.ts';
import { encodeCheckpoint, openCheckpointForRun } from '../../../src/worker/checkpoint-files.ts';
import { isWorkerError } from '../../../src/worker/protocol.ts';
import { writeSafetensors } from '../../../src/io/safetensors.ts';

const run: RunConfig = { ...defaultRunConfig(), depths: [1, 1, 1, 1], dims: [8, 16, 24, 32], decoderDim: 16, decoderDepth: 1, inputSize: 64, batchSize: 2, maskRatio: 0.5, seed: 4, blr: 3e-4, warmupSteps: 2, totalSteps: 20, gelu: 'tanh' };
const table = paramTable(modelOf(run));
const rng = new Random(8);
const state = { step: 7, params: initialParams(table, new Random(1)), m: rng.uniformArray(table.totalFloats), v: rng.uniformArray(table.totalFloats).map(Math.abs) };
const data = { source: 'files:imgs', imageCount: 9 };

/**
 * Where two flat engine-layout arrays differ inside the model's tensors (+0 and −0 equal; the
 * alignment padding between tensors is no tensor's and not stored), at most a few.
 */
function differences(a: Float32Array, b: Float32Array, t = table): string[] {
  const out: string[] = [];
  if (a.length !== b.length) return [`lengths ${a.length} vs ${b.length}`];
  for (const spec of t.specs) for (let i = spec.offset; i < spec.offset + spec.size && out.length < 3; i++) if (a[i] !== b[i]) out.push(`${spec.name}[${i - spec.offset}] ${a[i]} vs ${b[i]}`);
  return out;
}

describe('worker checkpoint files', () => {
  it('native: the configuration, weights, moments and step come back exactly', () => {
    const saved = encodeCheckpoint('native', { built: run, current: { ...run, blr: 5e-4 }, state, data });
    expect(saved.fileName).toBe('fcmae-convnextv2-custom-64px-step7.safetensors');
    const other: RunConfig = { ...defaultRunConfig(), evalImages: 3 };
    const file = openCheckpointForRun(saved.bytes, saved.fileName, other);
    expect(file.next).toEqual({ ...run, blr: 5e-4, evalImages: 3 }); // the live blr as it was at saving
    expect(file.modelChanged).toBe(true);
    expect(file.step).toBe(7);
    const back = file.state(null);
    expect(back.step).toBe(7);
    expect(differences(back.params, state.params)).toEqual([]);
    expect(differences(back.m!, state.m)).toEqual([]);
    expect(differences(back.v!, state.v)).toEqual([]);
  });

  it('official sparse: weights only, step 0; the current settings beyond the model stay', () => {
    const saved = encodeCheckpoint('official-sparse', { built: run, current: run, state, data });
    expect(saved.fileName).toMatch(/\.official-sparse\.pth$/);
    const file = openCheckpointForRun(saved.bytes, saved.fileName, run);
    expect(file.modelChanged).toBe(false);
    expect(file.next).toEqual(run);
    const back = file.state(new Float32Array(table.totalFloats).fill(0.5));
    expect([back.step, back.m, back.v]).toEqual([0, null, null]);
    expect(differences(back.params, state.params)).toEqual([]);
  });

  it('timm: the encoder only; with the default decoder (what an encoder-only file implies) the current decoder weights stay', () => {
    const wide: RunConfig = { ...run, decoderDim: 512 };
    const wideTable = paramTable(modelOf(wide));
    const weights = initialParams(wideTable, new Random(3));
    const saved = encodeCheckpoint('timm', { built: wide, current: wide, state: { step: 2, params: weights, m: null, v: null }, data });
    expect(saved.skipped.length).toBeGreaterThan(0);
    const file = openCheckpointForRun(saved.bytes, saved.fileName, wide);
    expect(file.modelChanged).toBe(false);
    const current = new Float32Array(wideTable.totalFloats).fill(0.25);
    const back = file.state(current);
    for (const spec of wideTable.specs) {
      const got = back.params.subarray(spec.offset, spec.offset + spec.size);
      const want = spec.name.startsWith('encoder.') ? weights.subarray(spec.offset, spec.offset + spec.size) : new Float32Array(spec.size).fill(0.25);
      const bad = got.findIndex((x, i) => x !== want[i]);
      expect(bad, `${spec.name}[${bad}]: ${got[bad]} vs ${want[bad]}`).toBe(-1);
    }
  });

  it('an encoder-only file keeps the page\'s decoder settings (not the default 512×1), and says so', () => {
    // the page runs a 2×16 decoder; the file (timm, encoder only) has none
    const deep: RunConfig = { ...run, decoderDim: 16, decoderDepth: 2 };
    const saved = encodeCheckpoint('timm', { built: run, current: run, state, data });
    const file = openCheckpointForRun(saved.bytes, saved.fileName, deep);
    expect([file.next.decoderDepth, file.next.decoderDim]).toEqual([2, 16]);
    expect(file.modelChanged).toBe(false);
    expect(file.report.decoderInFile).toBe(false);
    expect(file.lines.join('\n')).toMatch(/no decoder in .*: the page's decoder \(2×16\) is kept, with its current weights; "Train a decoder for this encoder"/);
    // another encoder: the kept decoder settings, freshly initialised
    const other: RunConfig = { ...deep, dims: [8, 16, 24, 40] };
    const changed = openCheckpointForRun(saved.bytes, saved.fileName, other);
    expect([changed.next.decoderDepth, changed.next.decoderDim, changed.next.dims]).toEqual([2, 16, [8, 16, 24, 32]]);
    expect(changed.lines.join('\n')).toMatch(/is kept, freshly initialised/);
  });

  it('refuses a file with nothing of the model as a WorkerError naming the file', () => {
    const bytes = writeSafetensors(new Map([['some.other.tensor', { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) }]]));
    let caught: unknown;
    try {
      openCheckpointForRun(bytes, 'other.safetensors', run);
    } catch (e) {
      caught = e;
    }
    expect(isWorkerError(caught)).toBe(true);
    expect((caught as Error).message).toMatch(/^other\.safetensors: /);
  });
});

describe('worker checkpoint files: the official trainer', () => {
  it("a dropped official training checkpoint gives its settings, weights, moments and step, and says what was not taken", async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { FIXTURE_DIR } = await import('../../helpers/fixtures.ts');
    const bytes = new Uint8Array(readFileSync(join(FIXTURE_DIR, 'io/official-pretrain/official-train.pth')));
    const file = openCheckpointForRun(bytes, 'official-train.pth', defaultRunConfig());
    expect(file.step).toBe(4);
    expect(file.next).toMatchObject({ depths: [1, 1, 1, 1], dims: [8, 16, 24, 32], decoderDim: 8, inputSize: 64, batchSize: 2, maskRatio: 0.5, grnMode: 'batch', weightDecayRule: 'official', totalSteps: 10, warmupSteps: 2 });
    const s = file.state(null);
    expect(s.m).not.toBeNull();
    expect(s.m!.some((x) => x !== 0)).toBe(true);
    expect(file.lines.join('\n')).toMatch(/official FCMAE training checkpoint/);
    expect(file.lines.join('\n')).toMatch(/not taken: data order/);
  });

  it('official-pretrain: the run saved for main_pretrain.py reads back with the same weights, moments and step', () => {
    const official: RunConfig = { ...run, weightDecayRule: 'official', gelu: 'erf', grnMode: 'batch' };
    const saved = encodeCheckpoint('official-pretrain', { built: official, current: official, state, data });
    expect(saved.fileName).toBe('fcmae-checkpoint.pth');
    const file = openCheckpointForRun(saved.bytes, saved.fileName, defaultRunConfig());
    expect(file.step).toBe(7);
    expect(file.next.weightDecayRule).toBe('official');
    const back = file.state(null);
    expect(differences(back.params, state.params)).toEqual([]);
    expect(differences(back.m!, state.m)).toEqual([]);
    expect(differences(back.v!, state.v)).toEqual([]);
  });
});
