// The `grads` command end to end: an official sparse-layout .pth checkpoint and a batch file
// in, every gradient out under the checkpoint's own names and layouts, equal to PyTorch's.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromCanonical } from '../../../src/io/name-schemes.ts';
import { parseSafetensors, tensorFloat64 } from '../../../src/io/safetensors.ts';
import { runCli } from '../../helpers/cli.ts';
import { FIXTURE_DIR } from '../../helpers/fixtures.ts';

const base = join(FIXTURE_DIR, 'model', 'base');

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
      for (let i = 0; i < want.data.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(want.data[i]!));
        maxDiff = Math.max(maxDiff, Math.abs(g.data[i]! - want.data[i]!));
      }
      // same bound as the model parity test: 2e-3 of the tensor's largest gradient
      if (maxDiff > 2e-3 * maxAbs) failures.push(`${name}: max diff ${maxDiff.toExponential(2)} vs max |grad| ${maxAbs.toExponential(2)}`);
    }
    expect(failures).toEqual([]);
    expect(got.get('loss')!.data[0]).toBeCloseTo(1.654381528, 4);
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
