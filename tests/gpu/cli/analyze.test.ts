// `analyze` end to end: the collapse curve of a timm checkpoint on its batch equals the timm
// reference (tests/fixtures/train/collapse.json), a random-init baseline beside it, a PNG plot
// written; a folder of images works too; the argument rules are enforced with a reason.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../../helpers/cli.ts';
import { loadFixture } from '../../helpers/fixtures.ts';
import { writeTextureFolder } from '../../helpers/labelled-folder.ts';

const tmp = mkdtempSync(join(tmpdir(), 'analyze-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const DIR = join(ROOT, 'tests/fixtures/finetune/timm_96_k7');

describe('analyze', () => {
  it('a batch: the timm reference curve, the baseline, a PNG plot and the activation grid of a chosen block', () => {
    const out = join(tmp, 'a.json');
    const png = join(tmp, 'a.png');
    const grid = join(tmp, 'grid.png');
    const r = runCli(['analyze', '--checkpoint', join(DIR, 'weights.safetensors'), '--batch', join(DIR, 'batch.safetensors'), '--out', out, '--plot', png, '--grid', grid, '--grid-block', '1.0', '--grid-image', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/activation grid: stage 1 block 0, image 1, the first 64 of 128 channels/);
    // 8 × 8 panels of 12 sites × 4 (upscaled to ≥ 48 px), gaps of 2
    expect(readFileSync(grid).readUInt32BE(16)).toBe(8 * 48 + 9 * 2);
    const rep = JSON.parse(readFileSync(out, 'utf8')) as { cosine_distance: number[]; baseline: { cosine_distance: number[] }; blocks: { stage: number; block: number }[]; images: number };
    const want = loadFixture('train/collapse').tensors['timm_96_k7.per_image']!;
    const [N, B] = want.shape as [number, number];
    const mean = Array.from({ length: B }, (_, b) => Array.from({ length: N }, (_, i) => want.data[i * B + b]!).reduce((a, v) => a + v, 0) / N);
    expect(rep.images).toBe(N);
    rep.cosine_distance.forEach((d, b) => expect(Math.abs(d - mean[b]!), `block ${b}`).toBeLessThan(2e-6));
    expect(rep.blocks.map((b) => `${b.stage}.${b.block}`)).toEqual(['0.0', '1.0', '2.0', '2.1', '2.2', '3.0']);
    expect(rep.baseline.cosine_distance.length).toBe(B);
    const bytes = readFileSync(png);
    expect([...bytes.subarray(1, 4)].map((c) => String.fromCharCode(c)).join('')).toBe('PNG');
  });

  it('a folder of images, spread over it', async () => {
    const dir = join(tmp, 'tex');
    await writeTextureFolder(dir, { perClass: 2, size: 40, seed: 1 });
    const out = join(tmp, 'b.json');
    const small = join(ROOT, 'tests/fixtures/finetune/timm_nogrn_k3/weights.safetensors');
    const r = runCli(['analyze', '--checkpoint', small, '--images', dir, '--input-size', '32', '--max-images', '3', '--baseline', 'false', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(readFileSync(out, 'utf8')) as { cosine_distance: number[]; baseline: unknown; images: number };
    expect(rep.images).toBe(3);
    expect(rep.baseline).toBeNull();
    expect(rep.cosine_distance.every((d) => d >= 0 && d <= 0.5)).toBe(true);
  });

  it('refuses a grid block that does not exist, and both --batch and --images', () => {
    const bad = runCli(['analyze', '--checkpoint', join(DIR, 'weights.safetensors'), '--batch', join(DIR, 'batch.safetensors'), '--out', join(tmp, 'h.json'), '--grid', join(tmp, 'g.png'), '--grid-block', '1.3']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--grid-block 1.3: expected STAGE.BLOCK .* \(depths 1,1,3,1\)/);
    const r = runCli(['analyze', '--checkpoint', join(DIR, 'weights.safetensors'), '--batch', 'a', '--images', 'b', '--out', join(tmp, 'x.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/exactly one of --batch FILE and --images DIR/);
  });
});
