// `finetune-grads` against the real libraries (tests/fixtures/finetune, generated with timm and
// transformers by tests/reference/gen_finetune_fixtures.py): for timm and Hugging Face
// checkpoints as they come (their own names; timm's conv_mlp 1×1-conv shapes; a no-GRN model;
// label smoothing 0, 0.1, 0.2; 3–7 classes; 64 and 96 px), the loss, the logits, the features
// (pre-logits) and the gradient of every parameter under the file's own names and shapes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSafetensors } from '../../../src/io/safetensors.ts';
import { compareRelToMax } from '../../helpers/allclose.ts';
import { ROOT, runCli } from '../../helpers/cli.ts';
import { compareGradients } from '../../helpers/model-fixtures.ts';

const DIR = join(ROOT, 'tests/fixtures/finetune');
const tmp = mkdtempSync(join(tmpdir(), 'finetune-grads-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const read = (path: string) => parseSafetensors(new Uint8Array(readFileSync(path)), { source: path });

function expectRelClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, label: string): void {
  const r = compareRelToMax(got, want, tol, label);
  expect(r.ok, r.message).toBe(true);
}

describe('finetune-grads vs timm / transformers autograd', () => {
  for (const name of ['timm_grn_ls', 'timm_96_k7', 'timm_nogrn_k3', 'hf_k4']) {
    it(name, () => {
      const expected = JSON.parse(readFileSync(join(DIR, name, 'expected.json'), 'utf8')) as { smoothing: number; loss: number; N: number; K: number };
      const out = join(tmp, `${name}.safetensors`);
      const r = runCli(['finetune-grads', '--checkpoint', join(DIR, name, 'weights.safetensors'), '--batch', join(DIR, name, 'batch.safetensors'), '--label-smoothing', String(expected.smoothing), '--out', out]);
      expect(r.code, r.stderr).toBe(0);
      const got = read(out).tensors;
      const outputs = read(join(DIR, name, 'outputs.safetensors')).tensors;
      const loss = got.get('loss')!.data[0]!;
      expect(Math.abs(loss - expected.loss) / expected.loss, `loss ${loss} want ${expected.loss}`).toBeLessThan(2e-5);
      expect(got.get('logits')!.shape).toEqual([expected.N, expected.K]);
      expectRelClose(got.get('logits')!.data, outputs.get('logits')!.data, 1e-4, 'logits');
      expectRelClose(got.get('features')!.data, outputs.get('features')!.data, 1e-4, 'features');
      const want = read(join(DIR, name, 'grads.safetensors')).tensors;
      const gotGrads = new Map([...got].filter(([n]) => !['loss', 'logits', 'features'].includes(n)).map(([n, t]) => [n, { shape: t.shape, data: t.data }]));
      for (const [n, t] of want) expect(gotGrads.get(n)?.shape, n).toEqual(t.shape);
      const cmp = compareGradients(new Map([...want].map(([n, t]) => [n, { shape: t.shape, data: Float64Array.from(t.data) }])), gotGrads, 1e-4);
      console.log(`${name}: loss ${loss} (want ${expected.loss}); worst gradient ${cmp.worstName} at ${(cmp.worst * 100).toFixed(4)} % of its max`);
      expect(cmp.failures, cmp.failures.join('\n')).toEqual([]);
    });
  }

  it('an FCMAE encoder (no head, no final norm) gets a new head for --classes; a head of another class count is re-initialised, said so', () => {
    const out = join(tmp, 'fcmae.safetensors');
    const r = runCli(['finetune-grads', '--checkpoint', join(ROOT, 'tests/fixtures/model/base/weights.safetensors'), '--batch', join(DIR, 'timm_nogrn_k3', 'batch.safetensors'), '--classes', '3', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/no head in weights.safetensors: initialised for 3 classes/);
    expect(r.stderr).toMatch(/no final norm in weights.safetensors/);
    expect(r.stderr).toMatch(/FCMAE decoder left behind/);
    const got = read(out).tensors;
    expect(got.get('head.weight')!.shape).toEqual([3, 32]);
    expect(got.has('encoder.stages.2.1.pwconv1.weight')).toBe(true);
    expect([...got.keys()].some((n) => n.startsWith('decoder.') || n.startsWith('pred.'))).toBe(false);
    const r2 = runCli(['finetune-grads', '--checkpoint', join(DIR, 'timm_nogrn_k3', 'weights.safetensors'), '--batch', join(DIR, 'timm_nogrn_k3', 'batch.safetensors'), '--classes', '5', '--out', join(tmp, 'k5.safetensors')]);
    expect(r2.code, r2.stderr).toBe(0);
    expect(r2.stderr).toMatch(/head has 3 classes, the data 5: head re-initialised/);
    expect(read(join(tmp, 'k5.safetensors')).tensors.get('head.fc.weight')!.shape).toEqual([5, 32]);
  });

  it('refuses labels outside the head and a batch without labels, naming them', () => {
    const r = runCli(['finetune-grads', '--checkpoint', join(DIR, 'timm_nogrn_k3', 'weights.safetensors'), '--batch', join(DIR, 'timm_96_k7', 'batch.safetensors'), '--out', join(tmp, 'x.safetensors')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/labels\[0\] = 6, but the head has 3 classes/);
    const r2 = runCli(['finetune-grads', '--checkpoint', join(DIR, 'timm_nogrn_k3', 'weights.safetensors'), '--batch', join(ROOT, 'tests/fixtures/model/base/batch.safetensors'), '--out', join(tmp, 'y.safetensors')]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/no tensor 'labels'/);
  });
});
