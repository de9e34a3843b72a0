// A classifier's starting weights from checkpoints of every kind: the encoder always from the
// file; a final norm without a head (timm num_classes=0, HF ConvNextV2Model) kept, not
// re-initialised; a head of another class count re-initialised and said so; a decoder left behind;
// an incomplete encoder refused naming the tensors.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../../src/io/checkpoint.ts';
import { classifierWeightsFrom, ClassifierWeightsError } from '../../../src/io/classifier-weights.ts';
import { parseSafetensors, writeSafetensors } from '../../../src/io/safetensors.ts';
import { specOf } from '../../../src/model/parameters.ts';
import { ROOT } from '../../helpers/cli.ts';

const timmFile = join(ROOT, 'tests/fixtures/finetune/timm_nogrn_k3/weights.safetensors');
const timm = parseSafetensors(new Uint8Array(readFileSync(timmFile))).tensors;
const fileWith = (keep: (name: string) => boolean) =>
  writeSafetensors([...timm].filter(([n]) => keep(n)).map(([name, t]) => ({ name, shape: t.shape, data: t.data })));
const valueOf = (w: ReturnType<typeof classifierWeightsFrom>, name: string) => {
  const s = specOf(w.table, name);
  return [...w.flat.subarray(s.offset, s.offset + s.size)];
};

describe('classifierWeightsFrom', () => {
  it('uses a timm head of the right class count as it is', () => {
    const w = classifierWeightsFrom(openCheckpoint(new Uint8Array(readFileSync(timmFile)), 'k3.safetensors'), 3, 0);
    expect(w.headFromFile).toBe(true);
    expect(w.notes).toEqual([]);
    expect(valueOf(w, 'head.weight')).toEqual([...timm.get('head.fc.weight')!.data]);
    expect(valueOf(w, 'norm.weight')).toEqual([...timm.get('head.norm.weight')!.data]);
  });

  it('keeps a headless file\'s final norm (timm num_classes=0) and initialises only the head', () => {
    const w = classifierWeightsFrom(openCheckpoint(fileWith((n) => !n.startsWith('head.fc.')), 'headless.safetensors'), 4, 0);
    expect(valueOf(w, 'norm.weight')).toEqual([...timm.get('head.norm.weight')!.data]);
    expect(valueOf(w, 'norm.bias')).toEqual([...timm.get('head.norm.bias')!.data]);
    expect(w.notes.join('\n')).toMatch(/no head in headless.safetensors: initialised for 4 classes/);
    expect(w.notes.join('\n')).not.toMatch(/no final norm/);
    const head = valueOf(w, 'head.weight');
    expect(Math.max(...head.map(Math.abs))).toBeLessThan(2e-4); // trunc-normal std 2e-5
  });

  it('re-initialises a head of another class count, saying so', () => {
    const w = classifierWeightsFrom(openCheckpoint(new Uint8Array(readFileSync(timmFile)), 'k3.safetensors'), 7, 1);
    expect(w.headFromFile).toBe(false);
    expect(w.notes.join('\n')).toMatch(/head has 3 classes, the data 7: head re-initialised/);
    expect(specOf(w.table, 'head.weight').torchShape).toEqual([7, 32]);
    expect(valueOf(w, 'norm.weight')).toEqual([...timm.get('head.norm.weight')!.data]);
  });

  it('refuses an encoder missing tensors, naming them', () => {
    const ckpt = openCheckpoint(fileWith((n) => n !== 'stages.2.blocks.1.conv_dw.weight'), 'cut.safetensors');
    expect(() => classifierWeightsFrom(ckpt, 3, 0)).toThrow(ClassifierWeightsError);
    expect(() => classifierWeightsFrom(ckpt, 3, 0)).toThrow(/the encoder is incomplete: missing encoder\.stages\.2\.1\.dwconv\.weight/);
  });
});
