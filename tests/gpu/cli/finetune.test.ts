// `finetune` end to end on a generated labelled folder (three texture classes): from a random
// initialisation it beats chance on held-out images, writes metrics.jsonl, report.json and
// checkpoints with the head; --resume from a mid-run checkpoint repeats the continuing run's
// losses exactly; bad input is refused naming what is wrong.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFineTuneCheckpoint } from '../../../src/io/finetune-checkpoint.ts';
import { runCli } from '../../helpers/cli.ts';
import { TEXTURE_CLASSES, writeTextureFolder } from '../../helpers/labelled-folder.ts';

const tmp = mkdtempSync(join(tmpdir(), 'finetune-'));
const data = join(tmp, 'tex');
const MODEL = ['--depths', '1,1,1,1', '--dims', '8,16,24,32', '--input-size', '32'];
beforeAll(() => writeTextureFolder(data, { perClass: 40, size: 40, seed: 3 }), 60_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Line {
  step: number;
  loss?: number;
  val_top1?: number;
}
const metrics = (dir: string): Line[] => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line);

describe('finetune', () => {
  it('from scratch: beats chance on the held-out images; writes the report and checkpoints', () => {
    const out = join(tmp, 'scratch');
    const r = runCli(['finetune', '--data', data, ...MODEL, '--batch-size', '16', '--steps', '120', '--blr', '0.05', '--eval-every', '60', '--seed', '1', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/3 classes \(checker, horizontal, vertical\); 96 training \/ 24 validation images/);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { val_top1: number; chance_top1: number; classes: string[]; confusion_matrix: number[][]; per_class_accuracy: Record<string, number> };
    console.log(`val top-1 ${report.val_top1} (chance ${report.chance_top1})`);
    expect(report.classes).toEqual([...TEXTURE_CLASSES]);
    expect(report.confusion_matrix.flat().reduce((a, b) => a + b, 0)).toBe(24);
    // chance is 1/3; 24 images: ≥ 0.6 is far outside what a chance classifier reaches (p < 0.01)
    expect(report.val_top1).toBeGreaterThanOrEqual(0.6);
    const lines = metrics(out);
    expect(lines.filter((l) => l.loss !== undefined).map((l) => l.step)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    expect(lines.filter((l) => l.val_top1 !== undefined).map((l) => l.step)).toEqual([60, 120]);
    const ckpt = readFineTuneCheckpoint(new Uint8Array(readFileSync(join(out, 'checkpoint-000120.safetensors'))), 'checkpoint-000120.safetensors');
    expect(ckpt.classes).toEqual([...TEXTURE_CLASSES]);
    expect(ckpt.params.get('head.weight')!.shape).toEqual([3, 32]);
    expect(ckpt.adamw).not.toBeNull();
    // the checkpoint is an ordinary classifier for the other commands: convert it to timm
    const timm = join(out, 'timm.safetensors');
    const c = runCli(['convert', '--in', join(out, 'checkpoint-000120.safetensors'), '--out', timm, '--format', 'timm']);
    expect(c.code, c.stderr).toBe(0);
    expect(existsSync(timm)).toBe(true);
  });

  it('--resume from a mid-run checkpoint repeats the losses of the uninterrupted run exactly', () => {
    const settings = [...MODEL, '--batch-size', '8', '--steps', '6', '--blr', '0.05', '--warmup', '1', '--drop-path', '0.2', '--ema', '0.9', '--seed', '4'];
    const full = join(tmp, 'full');
    const a = runCli(['finetune', '--data', data, ...settings, '--checkpoint-every', '3', '--out', full]);
    expect(a.code, a.stderr).toBe(0);
    const resumed = join(tmp, 'resumed');
    mkdirSync(resumed);
    writeFileSync(join(resumed, 'checkpoint-000003.safetensors'), readFileSync(join(full, 'checkpoint-000003.safetensors')));
    const b = runCli(['finetune', '--data', data, '--resume', join(resumed, 'checkpoint-000003.safetensors')]);
    expect(b.code, b.stderr).toBe(0);
    const losses = (dir: string) => metrics(dir).filter((l) => l.loss !== undefined && l.step > 3).map((l) => l.loss);
    expect(losses(resumed)).toEqual(losses(full));
    expect(JSON.parse(readFileSync(join(resumed, 'report.json'), 'utf8')).val_top1).toBe(JSON.parse(readFileSync(join(full, 'report.json'), 'utf8')).val_top1);
    const flags = runCli(['finetune', '--data', data, '--resume', join(resumed, 'checkpoint-000003.safetensors'), '--blr', '1']);
    expect(flags.code).toBe(2);
    expect(flags.stderr).toMatch(/with its own settings; drop --blr/);
  });

  it('refuses an unlabelled folder, a single class, mismatched --val classes and an absurd setting', () => {
    const plain = join(tmp, 'plain');
    mkdirSync(plain);
    writeFileSync(join(plain, 'a.png'), readFileSync(join(data, 'checker', '000.png')));
    const r1 = runCli(['finetune', '--data', plain, ...MODEL, '--out', join(tmp, 'o1')]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/no class subfolders; fine-tuning needs one folder per class/);
    const one = join(tmp, 'one');
    mkdirSync(join(one, 'checker'), { recursive: true });
    writeFileSync(join(one, 'checker', 'a.png'), readFileSync(join(data, 'checker', '000.png')));
    const r2 = runCli(['finetune', '--data', one, ...MODEL, '--out', join(tmp, 'o2')]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/one class \(checker\); a classifier needs at least 2/);
    const r3 = runCli(['finetune', '--data', data, '--val', one, ...MODEL, '--out', join(tmp, 'o3')]);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toMatch(/--val .* has classes \(checker\), --data has \(checker, horizontal, vertical\)/);
    const r4 = runCli(['finetune', '--data', data, ...MODEL, '--layer-decay', '1.5', '--out', join(tmp, 'o4')]);
    expect(r4.code).toBe(2);
    expect(r4.stderr).toMatch(/layerDecay 1.5: must be in \(0, 1\]/);
  });
});
