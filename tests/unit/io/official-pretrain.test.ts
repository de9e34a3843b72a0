// The official FCMAE training checkpoint both ways, against fixtures written by torch 2.x from
// the official module tree (tests/reference/gen_official_pretrain.py): the official parameter
// order and AdamW groups, the import of a torch-written {model, optimizer, epoch, scaler, args}
// (weights and moments equal the independently mapped canonical tensors exactly), and the export
// (read back: the same tensors, param_groups, scaler and args keys as torch wrote).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { customConfig } from '../../../src/model/config.ts';
import { decayBoundary, decaysUnder, paramTable } from '../../../src/model/parameters.ts';
import { officialGroups, officialParameterOrder } from '../../../src/io/official-order.ts';
import { officialPretrainAsNative, readOfficialPretrain, writeOfficialPretrain } from '../../../src/io/official-pretrain.ts';
import { readTorchCheckpoint, type PlainValue } from '../../../src/io/pytorch.ts';
import { parseSafetensors } from '../../../src/io/safetensors.ts';
import { FIXTURE_DIR } from '../../helpers/fixtures.ts';

const DIR = join(FIXTURE_DIR, 'io/official-pretrain');
const order = JSON.parse(readFileSync(join(DIR, 'official-order.json'), 'utf8')) as {
  meta: { depths: number[]; dims: number[]; decoderDepth: number; decoderDim: number; steps: number; epoch: number; paramGroupKeys: string[]; scaler: Record<string, number> };
  params: { name: string; shape: number[]; group: number; index: number; maintainersDecay: boolean }[];
};
const config = customConfig(order.meta.depths, order.meta.dims, order.meta.decoderDim, order.meta.decoderDepth);
const officialBytes = new Uint8Array(readFileSync(join(DIR, 'official-train.pth')));
const canonical = parseSafetensors(new Uint8Array(readFileSync(join(DIR, 'canonical.safetensors'))));

/** Largest |a − b| and where, for a failure message. */
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; at: number } {
  let diff = a.length === b.length ? 0 : Infinity;
  let at = -1;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= diff)) {
      diff = d;
      at = i;
    }
  }
  return { diff, at };
}

function expectExact(what: string, got: { shape: number[]; data: ArrayLike<number> } | undefined, want: { shape: number[]; data: ArrayLike<number> }): void {
  expect(got, `${what} missing`).toBeDefined();
  expect(got!.shape, `${what} shape`).toEqual(want.shape);
  const { diff, at } = maxDiff(got!.data, want.data);
  expect(diff, `${what}: max diff ${diff} at element ${at}`).toBe(0);
}

describe('official parameter order and AdamW groups', () => {
  it("is FCMAE.named_parameters() of the official source: names, shapes, order (mask_token first)", () => {
    const ours = officialParameterOrder(config);
    expect(ours.map((p) => p.name)).toEqual(order.params.map((p) => p.name));
    expect(ours.map((p) => p.shape)).toEqual(order.params.map((p) => p.shape));
  });

  it("numbers parameters as torch's AdamW over main_pretrain.py's [no-decay, decay] groups", () => {
    const g = officialGroups(officialParameterOrder(config), 'official');
    for (const p of order.params) {
      const k = g.byIndex.findIndex((q) => q.name === p.name);
      expect({ name: p.name, index: k, group: k < g.noDecay.length ? 0 : 1 }).toEqual({ name: p.name, index: p.index, group: p.group });
    }
  });

  it("decays under each rule exactly the tensors the fixture says, by official name; one boundary in the flat buffer", () => {
    const ours = officialParameterOrder(config);
    const table = paramTable(config);
    for (const rule of ['official', 'maintainers'] as const) {
      const boundary = decayBoundary(table, rule);
      for (const [i, p] of order.params.entries()) {
        const want = rule === 'official' ? p.group === 1 : p.maintainersDecay;
        const spec = table.byName.get(ours[i]!.canonical)!;
        expect({ rule, name: p.name, decays: decaysUnder(spec, rule) }).toEqual({ rule, name: p.name, decays: want });
        expect({ rule, name: p.name, belowBoundary: spec.offset < boundary }).toEqual({ rule, name: p.name, belowBoundary: want });
      }
    }
    // the official rule adds GRN gamma/beta and the mask token
    const extra = order.params.filter((p) => p.group === 1 && !p.maintainersDecay).map((p) => p.name);
    expect(extra).toContain('mask_token');
    expect(extra.filter((n) => /grn\.(gamma|beta)$/.test(n)).length).toBe(2 * (config.depths.reduce((a, b) => a + b, 0) + config.decoderDepth));
    expect(extra.length).toBe(1 + 2 * (config.depths.reduce((a, b) => a + b, 0) + config.decoderDepth));
  });
});

describe('import of a torch-2.x-written official training checkpoint', () => {
  const imported = readOfficialPretrain(readTorchCheckpoint(officialBytes, 'official-train.pth'));

  it('takes the weights and the AdamW moments, mapped to canonical names and dense layouts exactly', () => {
    expect(imported.params.size).toBe(order.params.length);
    for (const [name, t] of imported.params) expectExact(name, t, canonical.tensors.get(name)!);
    expect(imported.adamw).not.toBeNull();
    for (const [name, t] of imported.adamw!.m) expectExact(`exp_avg ${name}`, t, canonical.tensors.get(`adamw.m.${name}`)!);
    for (const [name, t] of imported.adamw!.v) expectExact(`exp_avg_sq ${name}`, t, canonical.tensors.get(`adamw.v.${name}`)!);
  });

  it('takes the step, the rule, the AdamW constants and the run settings from args', () => {
    expect(imported.step).toBe(order.meta.steps);
    expect(imported.adamw!.settings).toEqual({ beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.05, decayRule: 'official' });
    expect(imported.epoch).toBe(order.meta.epoch);
    expect(imported.itersPerEpoch).toBe(2);
    expect(imported.training).toEqual({ inputSize: 64, batchSize: 2, maskRatio: 0.5, visiblePatches: 2, blr: 1.5e-4, warmupSteps: 2, totalSteps: 10, seed: 0 });
    expect(imported.options).toEqual({ grnMode: 'batch', gelu: 'erf', normPix: true, denseEncoder: false });
    expect(imported.untaken.some((u) => /data order/.test(u))).toBe(true);
    expect(imported.untaken.some((u) => /scaler/.test(u))).toBe(true);
  });

  it('becomes a valid native checkpoint (the form train --resume takes)', () => {
    const r = officialPretrainAsNative(officialBytes, 'official-train.pth')!;
    expect(r.checkpoint.step).toBe(order.meta.steps);
    expect(r.checkpoint.adamw!.settings.decayRule).toBe('official');
  });

  it('refuses an optimizer whose groups do not fit the model, naming the sizes', () => {
    const ckpt = readTorchCheckpoint(officialBytes, 'official-train.pth');
    const opt = ckpt.extra.optimizer as { param_groups: { params: number[] }[] };
    opt.param_groups[0]!.params = opt.param_groups[0]!.params.slice(1);
    expect(() => readOfficialPretrain(ckpt)).toThrow(/param_groups hold \(38, 32\)/);
  });
});

describe('export for the official trainer', () => {
  const native = officialPretrainAsNative(officialBytes, 'official-train.pth')!.checkpoint;
  const out = writeOfficialPretrain({ ...native, datasetSize: 4 });
  const back = readTorchCheckpoint(out.bytes, 'export.pth');
  const original = readTorchCheckpoint(officialBytes, 'official-train.pth');

  it("writes {model, optimizer, epoch, scaler, args} with the torch-written file's model and moments, bit for bit", () => {
    expect(back.topLevelKeys).toEqual(['model', 'optimizer', 'epoch', 'scaler', 'args']);
    expect([...back.stateDict.keys()]).toEqual(order.params.map((p) => p.name));
    for (const [name, t] of original.stateDict) expectExact(name, back.stateDict.get(name), t);
    for (const [path, t] of original.extraTensors) expectExact(path, back.extraTensors.get(path), t);
    expect([...back.extraTensors.keys()].sort()).toEqual([...original.extraTensors.keys()].sort());
    const step = back.extraTensors.get('optimizer.state.0.step')!;
    expect(step.shape).toEqual([]);
    expect(step.dtype).toBe('float32');
  });

  it("param_groups, epoch and scaler as torch wrote them", () => {
    const groups = (o: PlainValue) => ((o as Record<string, PlainValue>).param_groups as Record<string, PlainValue>[]).map(({ lr: _lr, ...rest }) => rest);
    expect(groups(back.extra.optimizer!)).toEqual(groups(original.extra.optimizer!));
    const keys = ((back.extra.optimizer as Record<string, PlainValue>).param_groups as Record<string, PlainValue>[]).map((g) => Object.keys(g));
    expect(keys).toEqual([order.meta.paramGroupKeys, order.meta.paramGroupKeys]);
    expect(back.extra.epoch).toBe(order.meta.epoch);
    expect(back.extra.scaler).toEqual(order.meta.scaler);
    expect(out.rule).toBe('official');
  });

  it('args carry the run settings under the official names', () => {
    const args = back.extra.args as Record<string, PlainValue>;
    expect(args).toMatchObject({ batch_size: 2, input_size: 64, mask_ratio: 0.5, norm_pix_loss: true, decoder_depth: 1, decoder_embed_dim: 8, epochs: 5, warmup_epochs: 1, blr: 1.5e-4, weight_decay: 0.05, model: 'convnextv2_custom' });
    const originalArgs = original.extra.args as Record<string, PlainValue>;
    expect(Object.keys(args)).toEqual(Object.keys(originalArgs));
  });

  it("warns when the run used the maintainers' rule", () => {
    const m = writeOfficialPretrain({ ...native, adamw: { ...native.adamw!, settings: { ...native.adamw!.settings, decayRule: undefined } }, datasetSize: 4 });
    expect(m.rule).toBe('maintainers');
    expect(m.warnings.join(' ')).toMatch(/maintainers' weight-decay rule/);
  });
});
