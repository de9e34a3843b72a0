// `embed` against timm and transformers (tests/fixtures/finetune): the features equal timm's
// forward_head(forward_features(x), pre_logits=True) (HF: pooler_output) and the logits the
// head's, for a batch file; with --images, a labelled folder's features, logits and labels in
// sorted relative-path order.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSafetensors } from '../../../src/io/safetensors.ts';
import { compareRelToMax } from '../../helpers/allclose.ts';
import { ROOT, runCli } from '../../helpers/cli.ts';
import { writeTextureFolder } from '../../helpers/labelled-folder.ts';

const DIR = join(ROOT, 'tests/fixtures/finetune');
const tmp = mkdtempSync(join(tmpdir(), 'embed-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const read = (path: string) => parseSafetensors(new Uint8Array(readFileSync(path)), { source: path });

function expectRelClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, label: string): void {
  const r = compareRelToMax(got, want, tol, label);
  expect(r.ok, r.message).toBe(true);
}

describe('embed', () => {
  for (const name of ['timm_grn_ls', 'hf_k4']) {
    it(`${name}: features and logits equal the library's`, () => {
      const out = join(tmp, `${name}.safetensors`);
      const r = runCli(['embed', '--checkpoint', join(DIR, name, 'weights.safetensors'), '--batch', join(DIR, name, 'batch.safetensors'), '--batch-size', '2', '--out', out]);
      expect(r.code, r.stderr).toBe(0);
      const got = read(out).tensors;
      const want = read(join(DIR, name, 'outputs.safetensors')).tensors;
      expect(got.get('features')!.shape).toEqual(want.get('features')!.shape);
      expectRelClose(got.get('features')!.data, want.get('features')!.data, 1e-4, 'features');
      expectRelClose(got.get('logits')!.data, want.get('logits')!.data, 1e-4, 'logits');
      expect(got.has('labels')).toBe(false);
    });
  }

  it('--images: a labelled folder in sorted path order, labels int64; a headless encoder writes no logits', async () => {
    const dir = join(tmp, 'tex');
    await writeTextureFolder(dir, { perClass: 3, size: 40, seed: 9 });
    const out = join(tmp, 'folder.safetensors');
    const r = runCli(['embed', '--checkpoint', join(ROOT, 'tests/fixtures/model/base/weights.safetensors'), '--images', dir, '--input-size', '32', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/no final norm/);
    const f = read(out);
    expect(f.tensors.get('features')!.shape).toEqual([9, 32]);
    expect(f.tensors.get('labels')!.dtype).toBe('I64');
    expect([...f.tensors.get('labels')!.data]).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2]);
    expect(f.tensors.has('logits')).toBe(false);
  });

  it('refuses both --batch and --images, naming the rule', () => {
    const r = runCli(['embed', '--checkpoint', join(DIR, 'hf_k4', 'weights.safetensors'), '--batch', 'a', '--images', 'b', '--out', join(tmp, 'x')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/exactly one of --batch FILE and --images DIR/);
  });
});
