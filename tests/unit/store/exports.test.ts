// Run history exports and the "Continue in PyTorch" command.
import { describe, expect, it } from 'vitest';
import { pytorchCommand } from '../../../src/store/pytorch-command.ts';
import { CSV_HEADER, differingSettings, runsToCsv, runsToJson, type RunRecord } from '../../../src/store/run-history.ts';
import { applySetting, defaultSettings } from '../../../src/store/settings.ts';

function run(id: string, maskRatio: number, n: number): RunRecord {
  // the recipe's blr (the page's default is Quick look's): the expected rows below spell it
  const settings = { ...defaultSettings(), blr: 1.5e-4, maskRatio };
  const step = Array.from({ length: n }, (_, i) => i + 1);
  return {
    id, name: `mask ${maskRatio}`, createdAt: 1, settings, dataset: { name: 'demo', images: 300 }, steps: n, finalLoss: 0.5, smoothedLoss: 0.6, meanImagesPerSec: 12, wallSeconds: 3,
    curves: { step, loss: step.map((s) => 1 / s), lr: step.map((s) => s * 1e-5), imagesPerSec: step.map(() => 12) },
  };
}

describe('run exports', () => {
  it('CSV: one row per (run, step) with the run settings, parseable back', () => {
    const runs = [run('r1', 0.4, 3), run('r2', 0.8, 2)];
    runs[1]!.name = 'with, comma "quoted"';
    const csv = runsToCsv(runs);
    const lines = csv.trimEnd().split('\n');
    expect(lines[0]).toBe(CSV_HEADER.join(','));
    expect(lines.length).toBe(1 + 3 + 2);
    expect(lines[1]).toBe('r1,mask 0.4,0.4,atto,16,0.00015,0,1,1,0.00001,12,,,,,,,,');
    expect(lines[4]).toBe('r2,"with, comma ""quoted""",0.8,atto,16,0.00015,0,1,1,0.00001,12,,,,,,,,');
    // values read back as numbers equal the curve
    const loss = lines.slice(1, 4).map((l) => Number(l.split(',')[CSV_HEADER.indexOf('loss')]));
    expect(loss).toEqual(runs[0]!.curves.loss);
  });

  it('CSV: the evaluation columns carry what the JSON export has (judged accuracy, its random init, collapse mean and last block)', () => {
    const a = run('a', 0.6, 2);
    a.evaluation = {
      knn: { top1: 0.725, baselineTop1: 0.4, valCount: 200, classes: 10, pretrainStep: 300 },
      finetune: { top1: 0.8, baselineTop1: 0.5, valCount: 200, classes: 10, pretrainStep: 300 },
      collapse: { distance: [0.4, 0.3, 0.2], baselineDistance: [0.45, 0.45, 0.3], images: 8, pretrainStep: 300 },
      judgedBy: 'finetune',
    };
    const b = run('b', 0.8, 1);
    b.evaluation = { linear: { top1: 0.5, baselineTop1: null, valCount: 20, classes: 2, pretrainStep: 10 } };
    const lines = runsToCsv([a, b]).trimEnd().split('\n');
    const col = (line: string, name: (typeof CSV_HEADER)[number]) => line.split(',')[CSV_HEADER.indexOf(name)];
    expect(lines[0]!.split(',').slice(-8)).toEqual(['evaluation', 'accuracy', 'accuracy_random_init', 'evaluation_step', 'collapse_mean', 'collapse_last_block', 'collapse_mean_random_init', 'collapse_last_block_random_init']);
    // the same evaluation on every row of a run; the sweep's choice (fine-tune) over kNN
    expect(lines[1]!.split(',').slice(-8)).toEqual(['finetune', '0.8', '0.5', '300', String((0.4 + 0.3 + 0.2) / 3), '0.2', String((0.45 + 0.45 + 0.3) / 3), '0.3']);
    expect(lines[2]!.split(',').slice(-8)).toEqual(lines[1]!.split(',').slice(-8));
    // the JSON export holds the same figures
    const json = JSON.parse(runsToJson([a])).runs[0].evaluation;
    expect(Number(col(lines[1]!, 'accuracy'))).toBe(json.finetune.top1);
    expect(Number(col(lines[1]!, 'collapse_last_block'))).toBe(json.collapse.distance.at(-1));
    // no baseline measured, no collapse: empty fields, not zeros
    expect(lines[3]!.split(',').slice(-8)).toEqual(['linear', '0.5', '', '10', '', '', '', '']);
    expect(col(lines[3]!, 'step')).toBe('1');
  });

  it('JSON keeps settings and curves, drops the binary reconstruction', () => {
    const r = run('r1', 0.6, 2);
    r.reconstruction = { maskRatio: 0.6, maskSeed: 3, png: new Blob([new Uint8Array([1, 2, 3])]) };
    const parsed = JSON.parse(runsToJson([r]));
    expect(parsed.format).toBe('fcmae-playground-runs');
    expect(parsed.runs[0].curves).toEqual(r.curves);
    expect(parsed.runs[0].settings).toEqual(r.settings);
    expect(parsed.runs[0].reconstruction).toEqual({ maskRatio: 0.6, maskSeed: 3 });
  });

  it('differingSettings ignores view-only settings', () => {
    const a = run('a', 0.4, 1);
    const b = run('b', 0.8, 1);
    b.settings.smoothing = 0.5;
    expect(differingSettings([a, b])).toEqual(['maskRatio']);
    expect(differingSettings([a])).toEqual([]);
  });

  it('GRN off shows in the model column and as a difference; runs stored before the option count as GRN on', () => {
    const a = run('a', 0.6, 1);
    const b = run('b', 0.6, 1);
    b.settings.grn = false;
    expect(differingSettings([a, b])).toEqual(['grn']);
    const old = run('old', 0.6, 1);
    delete (old.settings as Partial<typeof old.settings>).grn;
    expect(differingSettings([old, a])).toEqual([]);
    expect(differingSettings([old, b])).toEqual(['grn']);
    expect(runsToCsv([b]).split('\n')[1]).toBe('b,mask 0.6,0.6,atto no-GRN,16,0.00015,0,1,1,0.00001,12,,,,,,,,');
    expect(runsToCsv([old]).split('\n')[1]).toBe('old,mask 0.6,0.6,atto,16,0.00015,0,1,1,0.00001,12,,,,,,,,');
  });
});

describe('pytorchCommand', () => {
  it('official flags for a preset run, steps converted to epochs', () => {
    const s = { ...defaultSettings(), blr: 1.5e-4, totalSteps: 1000, warmupSteps: 50, batchSize: 16, grnMode: 'batch' as const };
    // 300 images / 16 = 18 iterations per epoch (drop_last) → 1000 steps = 56 epochs (ceil), warmup 50/18 ≈ 3
    const c = pytorchCommand(s, { datasetSize: 300, checkpointFile: 'run.pth', stepsDone: 120 });
    expect(c.epochs).toBe(56);
    expect(c.warmupEpochs).toBe(3);
    expect(c.command.split(' \\\n')).toEqual([
      'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 torchrun --nproc_per_node=1 main_pretrain.py',
      '  --model convnextv2_atto',
      '  --batch_size 16',
      '  --update_freq 1',
      '  --blr 0.00015',
      '  --weight_decay 0.05',
      '  --epochs 56',
      '  --warmup_epochs 3',
      '  --input_size 160',
      '  --mask_ratio 0.6',
      '  --decoder_depth 1',
      '  --decoder_embed_dim 512',
      '  --norm_pix_loss',
      '  --seed 0',
      '  --data_path /path/to/dataset',
      '  --output_dir ./output',
      '  --resume run.pth',
    ]);
    expect(c.notes.some((n) => /round to 56 epochs with 3 of warmup/.test(n))).toBe(true);
    expect(c.notes.some((n) => /GRN statistics/.test(n))).toBe(false); // batch GRN = official
    expect(c.arithmetic[0]).toBe("eff_batch = batch_size 16 × update_freq 1 × 1 GPU = 16 (this run's batch)");
    expect(c.finetune).toMatch(/^TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 torchrun --nproc_per_node=1 main_finetune\.py/);
    expect(c.finetune).toContain('--finetune run.pth');
  });

  it('N GPUs: per-GPU batch B/N keeps the effective batch and lr; a batch N does not divide changes both, with a note', () => {
    const s = { ...defaultSettings(), batchSize: 16, blr: 1.5e-4 };
    const four = pytorchCommand(s, { datasetSize: 320, checkpointFile: 'run.pth', stepsDone: 0, gpus: 4 });
    expect(four.command).toMatch(/^TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 torchrun --nproc_per_node=4 main_pretrain\.py/);
    expect(four.command).toContain('--batch_size 4 \\');
    expect([four.perGpuBatch, four.effBatch, four.lr]).toEqual([4, 16, (1.5e-4 * 16) / 256]);
    expect(four.arithmetic[1]).toBe(`lr = blr 0.00015 × 16 / 256 = ${((1.5e-4 * 16) / 256).toExponential(4)}`);
    const three = pytorchCommand(s, { datasetSize: 320, checkpointFile: 'run.pth', stepsDone: 0, gpus: 3 });
    expect([three.perGpuBatch, three.effBatch]).toEqual([6, 18]);
    expect(three.notes.join(' ')).toMatch(/3 GPUs do not divide this run's batch 16: each takes 6, so the effective batch is 18/);
  });

  it("names the weight-decay rule: the maintainers' rule gets a note, the official one none", () => {
    const maint = pytorchCommand(defaultSettings(), { datasetSize: 16, checkpointFile: 'run.pth', stepsDone: 0 });
    expect(maint.notes.join(' ')).toMatch(/maintainers' weight-decay rule/);
    const official = pytorchCommand({ ...defaultSettings(), weightDecayRule: 'official' }, { datasetSize: 16, checkpointFile: 'run.pth', stepsDone: 0 });
    expect(official.notes.join(' ')).not.toMatch(/weight-decay rule/);
  });

  it('notes every difference the official script cannot express', () => {
    let s = applySetting(defaultSettings(), 'depths', [1, 1, 1, 1]);
    s = { ...s, normPix: false, gelu: 'tanh', denseEncoder: true, grnMode: 'per-sample', freezeEncoder: true };
    const c = pytorchCommand(s, { datasetSize: 16, checkpointFile: "my run's.pth", stepsDone: 0 });
    expect(c.command).toContain('--model convnextv2_custom');
    expect(c.command).not.toContain('--norm_pix_loss');
    expect(c.command).toContain(`--resume 'my run'\\''s.pth'`);
    const joined = c.notes.join('\n');
    expect(joined).toMatch(/def convnextv2_custom\(\*\*kwargs\): return FCMAE\(depths=\[1, 1, 1, 1\], dims=\[40, 80, 160, 320\]/);
    expect(joined).toMatch(/plain-pixel targets/);
    expect(joined).toMatch(/GRN statistics here are per sample/);
    expect(joined).toMatch(/tanh GELU/);
    expect(joined).toMatch(/dense-encoder ablation/);
    expect(joined).toMatch(/decoder warm-up \(encoder frozen\)/);
    expect(pytorchCommand(defaultSettings(), { datasetSize: 16, checkpointFile: 'a.pth', stepsDone: 0 }).notes.join('\n')).not.toMatch(/decoder warm-up/);
  });

  it('a run without GRN says the official model always has it (and no word on GRN statistics)', () => {
    const c = pytorchCommand({ ...defaultSettings(), grn: false, weightDecayRule: 'official' }, { datasetSize: 16, checkpointFile: 'run.pth', stepsDone: 0 });
    expect(c.notes.filter((n) => /GRN/.test(n))).toEqual([
      'This run has no GRN (V1-style blocks); the official FCMAE model always has GRN: remove the GRN layers from models/convnextv2_sparse.py and models/convnextv2.py to match.',
    ]);
  });
});
