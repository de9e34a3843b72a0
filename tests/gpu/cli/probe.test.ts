// `probe` end to end: kNN and linear probes of a checkpoint's frozen features from a labelled
// training folder to a validation folder, with the random-initialisation baseline beside;
// the kNN predictions equal the probe applied to the features `embed` exports (the probe maths
// itself is checked against PyTorch in tests/unit/train/probes.test.ts); bad folders refused.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSafetensors } from '../../../src/io/safetensors.ts';
import { knnPredict } from '../../../src/train/probes.ts';
import { ROOT, runCli } from '../../helpers/cli.ts';
import { writeTextureFolder } from '../../helpers/labelled-folder.ts';

const tmp = mkdtempSync(join(tmpdir(), 'probe-'));
const train = join(tmp, 'train');
const val = join(tmp, 'val');
const CKPT = join(ROOT, 'tests/fixtures/finetune/timm_nogrn_k3/weights.safetensors');
beforeAll(async () => {
  await writeTextureFolder(train, { perClass: 8, size: 40, seed: 5 });
  await writeTextureFolder(val, { perClass: 4, size: 40, seed: 6 });
}, 60_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Report {
  method: string;
  top1: number;
  predictions: number[];
  baseline: { top1: number; predictions: number[] } | null;
  classes: string[];
  val_paths: string[];
}

describe('probe', () => {
  it('kNN: predictions equal kNN on the features embed exports; a random-init baseline beside', () => {
    const out = join(tmp, 'knn.json');
    const r = runCli(['probe', '--checkpoint', CKPT, '--train', train, '--val', val, '--method', 'knn', '--k', '5', '--input-size', '32', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/kNN \(k 5, T 0.07\): top-1 [\d.]+ % on 12 images; random-init baseline [\d.]+ %; chance 33.3 %/);
    const rep = JSON.parse(readFileSync(out, 'utf8')) as Report;
    expect(rep.classes).toEqual(['checker', 'horizontal', 'vertical']);
    expect(rep.val_paths.length).toBe(12);
    expect(rep.baseline!.predictions.length).toBe(12);
    const feats = (dir: string) => {
      const f = join(tmp, `${dir.split('/').pop()}.safetensors`);
      const e = runCli(['embed', '--checkpoint', CKPT, '--images', dir, '--input-size', '32', '--out', f]);
      expect(e.code, e.stderr).toBe(0);
      const t = parseSafetensors(new Uint8Array(readFileSync(f))).tensors;
      return { f: { data: t.get('features')!.data, count: t.get('features')!.shape[0]!, dim: t.get('features')!.shape[1]! }, y: Int32Array.from(t.get('labels')!.data) };
    };
    const a = feats(train);
    const b = feats(val);
    expect([...knnPredict(a.f, a.y, b.f, { k: 5, temperature: 0.07, numClasses: 3 })]).toEqual(rep.predictions);
    const right = rep.predictions.filter((p, i) => p === b.y[i]).length;
    expect(rep.top1).toBe(right / 12);
  });

  it('linear probe without the baseline', () => {
    const out = join(tmp, 'linear.json');
    const r = runCli(['probe', '--checkpoint', CKPT, '--train', train, '--val', val, '--method', 'linear', '--epochs', '20', '--input-size', '32', '--baseline', 'false', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(readFileSync(out, 'utf8')) as Report;
    expect(rep.method).toBe('linear');
    expect(rep.baseline).toBeNull();
    expect(rep.predictions.every((p) => p >= 0 && p < 3)).toBe(true);
  });

  it('refuses an unlabelled folder and mismatched classes, naming them', () => {
    const plain = join(tmp, 'plain');
    mkdirSync(plain);
    writeFileSync(join(plain, 'a.png'), readFileSync(join(val, 'checker', '000.png')));
    const r1 = runCli(['probe', '--checkpoint', CKPT, '--train', train, '--val', plain, '--method', 'knn', '--input-size', '32', '--out', join(tmp, 'x.json')]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/--val .*plain: no class subfolders/);
    const two = join(tmp, 'two');
    mkdirSync(join(two, 'checker'), { recursive: true });
    mkdirSync(join(two, 'dots'), { recursive: true });
    writeFileSync(join(two, 'checker', 'a.png'), readFileSync(join(val, 'checker', '000.png')));
    writeFileSync(join(two, 'dots', 'a.png'), readFileSync(join(val, 'checker', '001.png')));
    const r2 = runCli(['probe', '--checkpoint', CKPT, '--train', train, '--val', two, '--method', 'knn', '--input-size', '32', '--out', join(tmp, 'y.json')]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/--val has classes \(checker, dots\), --train has \(checker, horizontal, vertical\)/);
  });
});
