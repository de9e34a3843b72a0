// The `grads` command end to end: an official sparse-layout .pth checkpoint and a batch file
// in, every gradient out under the checkpoint's own names and layouts, equal to PyTorch's.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromCanonical } from '../../../src/io/name-schemes.ts';
import { parseSafetensors, tensorFloat64, writeSafetensors } from '../../../src/io/safetensors.ts';
import { runCli } from '../../helpers/cli.ts';
import { FIXTURE_DIR } from '../../helpers/fixtures.ts';

const base = join(FIXTURE_DIR, 'model', 'base');

type Tensors = ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>;

/** Every expected gradient present, same shape, within 2e-3 of its tensor's largest entry (the parity test's bound). */
function gradientFailures(got: Tensors, expected: Tensors): string[] {
  const failures: string[] = [];
  for (const [name, want] of expected) {
    const g = got.get(name);
    if (!g) {
      failures.push(`${name} missing`);
      continue;
    }
    if (g.shape.join() !== want.shape.join()) failures.push(`${name}: shape (${g.shape}) vs (${want.shape})`);
    let maxAbs = 0;
    let maxDiff = 0;
    let at = 0;
    for (let i = 0; i < want.data.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(want.data[i]!));
      const d = Math.abs(g.data[i]! - want.data[i]!);
      if (d > maxDiff) [maxDiff, at] = [d, i];
    }
    if (maxDiff > 2e-3 * maxAbs) failures.push(`${name}: max diff ${maxDiff.toExponential(2)} at ${at} vs max |grad| ${maxAbs.toExponential(2)}`);
  }
  return failures;
}

describe('fcmae grads', () => {
  it('official sparse checkpoint: loss and gradients in the sparse layout match PyTorch', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'grads-')), 'grads.safetensors');
    const r = runCli(['grads', '--checkpoint', join(base, 'official_sparse.pth'), '--batch', join(base, 'batch.safetensors'), '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/loss 1\.654\d+; 81 gradients \(official-sparse layout\)/);
    const got = parseSafetensors(new Uint8Array(readFileSync(out))).tensors;
    const expectedCanonical = new Map(
      [...parseSafetensors(new Uint8Array(readFileSync(join(base, 'grads.safetensors')))).tensors].map(([k, t]) => [k, { shape: t.shape, data: Float32Array.from(tensorFloat64(t, k)) }]),
    );
    const expected = fromCanonical(expectedCanonical, 'official-sparse').tensors;
    expect(gradientFailures(got, expected)).toEqual([]);
    expect(got.get('loss')!.data[0]).toBeCloseTo(1.654381528, 4);
  });

  for (const [name, visible, L] of [['keep3of9', 3, 9], ['keep27of49', 27, 49]] as const) {
    it(`${name}: a batch keeping ${visible} of ${L} patches (its ratio does not round-trip) gives PyTorch's loss and gradients`, () => {
      const dir = join(FIXTURE_DIR, 'model', name);
      const out = join(mkdtempSync(join(tmpdir(), 'grads-')), 'grads.safetensors');
      const r = runCli(['grads', '--checkpoint', join(dir, 'weights.safetensors'), '--batch', join(dir, 'batch.safetensors'), '--out', out]);
      expect(r.code, r.stderr).toBe(0);
      const got = parseSafetensors(new Uint8Array(readFileSync(out))).tensors;
      const expected = new Map([...parseSafetensors(new Uint8Array(readFileSync(join(dir, 'grads.safetensors')))).tensors].map(([k, t]) => [k, { shape: t.shape, data: Float32Array.from(tensorFloat64(t, k)) }]));
      expect(gradientFailures(got, expected)).toEqual([]);
      const want = (JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as { loss: number }).loss;
      expect(Math.abs(got.get('loss')!.data[0]! - want) / want).toBeLessThan(1e-4);
    });
  }

  it('a batch file whose samples keep different counts is refused, naming the samples', () => {
    const dir = mkdtempSync(join(tmpdir(), 'grads-mixed-'));
    const N = 3;
    const L = 9;
    const mask = new Float32Array(N * L).fill(1);
    for (const [n, keep] of [[0, 3], [1, 4], [2, 3]] as const) for (let p = 0; p < keep; p++) mask[n * L + p] = 0;
    const batch = join(dir, 'mixed.safetensors');
    writeFileSync(batch, writeSafetensors([{ name: 'imgs', shape: [N, 3, 96, 96], data: new Float32Array(N * 3 * 96 * 96) }, { name: 'mask', shape: [N, L], data: mask }]));
    const r = runCli(['grads', '--checkpoint', join(FIXTURE_DIR, 'model', 'keep3of9', 'weights.safetensors'), '--batch', batch, '--out', join(dir, 'o')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('mixed.safetensors: the samples keep different numbers of patches (3 of 9 visible in samples 0, 2; 4 of 9 visible in sample 1)');
  });

  it('bad inputs exit non-zero with a one-line reason naming the file or option', () => {
    const dir = mkdtempSync(join(tmpdir(), 'grads-bad-'));
    const junk = join(dir, 'junk.pth');
    writeFileSync(junk, 'this is not a checkpoint');
    const r1 = runCli(['grads', '--checkpoint', junk, '--batch', join(base, 'batch.safetensors'), '--out', join(dir, 'o')]);
    expect(r1.code).not.toBe(0);
    expect(r1.stderr).toMatch(/^fcmae grads: junk\.pth: .*(not a|neither)/m);
    const r2 = runCli(['grads', '--checkpoint', join(base, 'weights.safetensors'), '--batch', join(base, 'batch.safetensors'), '--out', join(dir, 'o'), '--grn', 'sideways']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('--grn sideways: expected one of per-sample, batch');
    const r3 = runCli(['grads', '--batch', join(base, 'batch.safetensors')]);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toContain('--checkpoint is required');
  });
});
