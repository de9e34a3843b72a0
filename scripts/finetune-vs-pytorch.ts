// `npx tsx scripts/finetune-vs-pytorch.ts [--per-class 60] [--steps 150] [--seeds 3] [--json]`:
// fine-tuning from scratch, the engine against plain PyTorch + timm on the same recipe.
//
// 1. Generates a labelled texture folder (tests/helpers/labelled-folder.ts: checker /
//    horizontal / vertical stripes, --per-class images each) in a temporary folder.
// 2. Per seed, runs the engine's `fcmae finetune` on it from a random initialisation (the CLI
//    itself, as a child process) and reads its report.json.
// 3. Runs the same recipe in PyTorch + timm (scripts/finetune_pytorch.py, with the reference
//    venv's python): timm ConvNeXt(use_grn=True, ls_init_value=None), the official head init,
//    the engine's own stratified split (stratifiedSplit on the same labels and seed) on the
//    engine's own decoded pixels, the engine's lr of every step (learningRateAt), AdamW
//    (0.9, 0.999) with the official parameter groups (checked tensor by tensor against the
//    engine's), the same label smoothing, weight decay, drop path, batch size and steps, and
//    the same augmentation definition (RandomResizedCrop scale 0.08–1, ratio 3/4–4/3, bicubic,
//    horizontal flip; evaluation resize input/0.875, centre crop, ImageNet normalisation).
// 4. Prints seed, engine val top-1, PyTorch val top-1, their difference and each side's wall
//    time, then the means (--json: the same as one JSON document on stdout).
//
// The two runs are NOT bit-identical: the initial weights, the batch order, the crop and flip
// draws (and drop path, when on) come from the engine's seeded streams on one side and from
// torch's generator on the other, and float sums run in different orders. What is compared is
// the accuracy each reaches on the same validation images. With a small validation set one
// image is several points (36 images at the defaults: 2.8 points each), so look at the means.
//
// PyTorch runs on one thread unless --threads says otherwise: the model is tiny, and on a
// shared CPU torch's spinning OpenMP threads made a 2-thread run 30× slower than 1 thread.
//
// Progress goes to stderr; the engine's and PyTorch's logs are kept in the work folder
// (--keep, or --work DIR, keeps it). The reference venv: /work/shared/scripts/reference-venv.sh
// /work/.refvenv (torch CPU + timm), or pass --python.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stratifiedSplit } from '../src/data/labelled-batches.ts';
import { decodeFolder, indexFolder } from '../src/data/node-folder.ts';
import { classifierParamTable } from '../src/model/parameters.ts';
import { lrScheduleOfFineTune, type FineTuneConfig } from '../src/train/finetune-config.ts';
import { learningRateAt } from '../src/train/lr-schedule.ts';
import { paramGroups } from '../src/train/param-groups.ts';
import { decodeSizeFor } from '../src/train/run-config.ts';
import { TEXTURE_CLASSES, writeTextureFolder } from '../tests/helpers/labelled-folder.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_PYTHON = existsSync('/work/.refvenv/bin/python') ? '/work/.refvenv/bin/python' : 'python3';

const { values: a } = parseArgs({
  options: {
    'per-class': { type: 'string', default: '60' },
    steps: { type: 'string', default: '150' },
    seeds: { type: 'string', default: '3' },
    'first-seed': { type: 'string', default: '0' },
    'data-seed': { type: 'string', default: '1' },
    'image-size': { type: 'string' },
    'input-size': { type: 'string', default: '32' },
    'batch-size': { type: 'string', default: '16' },
    blr: { type: 'string', default: '0.05' },
    depths: { type: 'string', default: '1,1,1,1' },
    dims: { type: 'string', default: '8,16,24,32' },
    'val-fraction': { type: 'string', default: '0.2' },
    warmup: { type: 'string' },
    'weight-decay': { type: 'string' },
    'layer-decay': { type: 'string' },
    'label-smoothing': { type: 'string' },
    'drop-path': { type: 'string' },
    python: { type: 'string', default: DEFAULT_PYTHON },
    threads: { type: 'string' },
    work: { type: 'string' },
    keep: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});

if (a.help) {
  process.stdout.write(
    'usage: npx tsx scripts/finetune-vs-pytorch.ts [--per-class N] [--steps S] [--seeds N] [--first-seed K] [--data-seed K] [--image-size PX]\n' +
      '  [--input-size PX] [--batch-size N] [--blr X] [--depths a,b,c,d] [--dims a,b,c,d] [--val-fraction F] [--warmup S] [--weight-decay W]\n' +
      '  [--layer-decay D] [--label-smoothing E] [--drop-path P] [--python PATH] [--threads N] [--work DIR] [--keep] [--json]\n',
  );
  process.exit(0);
}

const int = (name: string, v: string | undefined, min = 0): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) fail(`--${name} ${v}: must be an integer ≥ ${min}`);
  return n;
};
function fail(msg: string): never {
  process.stderr.write(`finetune-vs-pytorch: ${msg}\n`);
  process.exit(2);
}
const log = (line: string) => process.stderr.write(line + '\n');

const perClass = int('per-class', a['per-class'], 2);
const steps = int('steps', a.steps, 1);
const seedCount = int('seeds', a.seeds, 1);
const firstSeed = int('first-seed', a['first-seed']);
const dataSeed = int('data-seed', a['data-seed']);
const inputSize = int('input-size', a['input-size'], 32);
const decodeSide = decodeSizeFor(inputSize);
const imageSize = a['image-size'] !== undefined ? int('image-size', a['image-size'], 8) : decodeSide;
const depths = a.depths!.split(',').map((x) => int('depths', x, 1));
const dims = a.dims!.split(',').map((x) => int('dims', x, 1));
if (depths.length !== 4 || dims.length !== 4) fail('--depths and --dims take 4 numbers each');
const valFraction = Number(a['val-fraction']);
if (!(valFraction > 0 && valFraction < 1)) fail(`--val-fraction ${a['val-fraction']}: must be in (0, 1)`);
const python = a.python!;

// ---- the work folder, the data, and the engine's decode of it
const work = a.work ? resolve(a.work) : mkdtempSync(join(tmpdir(), 'finetune-vs-pytorch-'));
mkdirSync(work, { recursive: true });
const dataDir = join(work, 'data');

function run(cmd: string, args: string[], logPath: string): Promise<{ code: number; seconds: number }> {
  const t0 = performance.now();
  return new Promise((res, rej) => {
    const out = createWriteStream(logPath);
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    child.on('error', rej);
    child.on('close', (code) => {
      out.end();
      res({ code: code ?? 1, seconds: (performance.now() - t0) / 1000 });
    });
  });
}
const tail = (path: string, n = 15) => readFileSync(path, 'utf8').trimEnd().split('\n').slice(-n).join('\n');

interface Row {
  seed: number;
  engine_top1: number;
  pytorch_top1: number;
  difference: number;
  engine_wall_s: number;
  pytorch_wall_s: number;
  engine_train_s: number;
  pytorch_train_s: number;
  engine_val_loss: number;
  pytorch_val_loss: number;
  val_images: number;
}

async function main(): Promise<void> {
  if (existsSync(dataDir)) fail(`${dataDir} exists; give --work a new folder`);
  log(`generating ${perClass} images per class (${TEXTURE_CLASSES.join(', ')}), ${imageSize}×${imageSize} px, seed ${dataSeed}, in ${dataDir}`);
  await writeTextureFolder(dataDir, { perClass, size: imageSize, seed: dataSeed });

  // The same decode as `fcmae finetune` (shorter side input/0.875): PyTorch gets these pixels.
  const index = await indexFolder(dataDir);
  const decoded = await decodeFolder(index, { shorterSide: decodeSide });
  if (decoded.index.skipped.length || decoded.images.length !== perClass * TEXTURE_CLASSES.length) fail(`decoded ${decoded.images.length} images, skipped ${decoded.index.skipped.length}`);
  const classes = decoded.index.classes;
  const labels = Int32Array.from(decoded.index.images, (im) => im.labelIndex!);
  const pixelsPath = join(work, 'pixels.u8');
  let offset = 0;
  const images = decoded.images.map((im, i) => {
    if (im.channels !== 3) fail(`image ${i} decoded with ${im.channels} channels`);
    const e = { path: decoded.index.images[i]!.path, label: labels[i]!, width: im.width, height: im.height, offset };
    offset += im.width * im.height * 3;
    return e;
  });
  const all = new Uint8Array(offset);
  decoded.images.forEach((im, i) => all.set(im.data, images[i]!.offset));
  writeFileSync(pixelsPath, all);

  const rows: Row[] = [];
  let engineSettings: FineTuneConfig | null = null; // the first run's (all but the seed are the same)
  for (let s = 0; s < seedCount; s++) {
    const seed = firstSeed + s;
    const out = join(work, `engine-seed${seed}`);
    const engineArgs = [
      'src/cli/main.ts', 'finetune',
      '--data', dataDir, '--val-fraction', String(valFraction),
      '--depths', depths.join(','), '--dims', dims.join(','),
      '--input-size', String(inputSize), '--batch-size', a['batch-size']!, '--steps', String(steps), '--blr', a.blr!,
      '--seed', String(seed), '--out', out,
    ];
    for (const f of ['warmup', 'weight-decay', 'layer-decay', 'label-smoothing', 'drop-path'] as const) if (a[f] !== undefined) engineArgs.push(`--${f}`, a[f]!);
    log(`seed ${seed}: engine: fcmae ${engineArgs.slice(1).join(' ')}`);
    const engineLog = join(work, `engine-seed${seed}.log`);
    const eng = await run(join(ROOT, 'node_modules', '.bin', 'tsx'), engineArgs, engineLog);
    if (eng.code !== 0) fail(`engine run failed (exit ${eng.code}); ${engineLog}:\n${tail(engineLog)}`);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as {
      val_top1: number; val_loss: number; val_images: number; classes: string[]; confusion_matrix: number[][]; settings: FineTuneConfig; model: { depths: number[]; dims: number[]; grn: boolean };
    };
    const settings = report.settings;
    engineSettings ??= settings;
    if (report.classes.join('\n') !== classes.join('\n')) fail(`engine classes (${report.classes}) differ from the folder's (${classes})`);

    // The split the engine used, recomputed; checked against its confusion matrix's row sums.
    const split = stratifiedSplit(labels, valFraction, settings.seed);
    const perClassVal = classes.map((_, k) => split.val.filter((i) => labels[i] === k).length);
    const engineRows = report.confusion_matrix.map((r) => r.reduce((x, y) => x + y, 0));
    if (split.val.length !== report.val_images || perClassVal.join() !== engineRows.join()) {
      fail(`recomputed split (${perClassVal} validation images per class) differs from the engine's (${engineRows})`);
    }
    // The lr of every step, as the engine computes it (step k runs at learningRateAt(k − 1)); checked against metrics.jsonl.
    const schedule = lrScheduleOfFineTune(settings);
    const lrs = Array.from({ length: settings.totalSteps }, (_, k) => learningRateAt(k, schedule));
    const logged = readFileSync(join(out, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { step: number; lr?: number; step_ms?: number }).filter((m) => m.lr !== undefined);
    const engineTrainS = logged.reduce((t, m) => t + (m.step_ms ?? 0), 0) / 1000;
    if (logged.length !== lrs.length || logged.some((m) => Math.abs(m.lr! - lrs[m.step - 1]!) > 1e-7 * Math.max(1e-3, lrs[m.step - 1]!))) {
      fail(`the engine's logged learning rates differ from learningRateAt's`);
    }
    const table = classifierParamTable({ depths: report.model.depths, dims: report.model.dims, grn: report.model.grn }, classes.length);
    const groups = paramGroups(table, report.model.depths, { layerDecay: settings.layerDecay, weightDecay: settings.weightDecay });
    const job = {
      pixels: pixelsPath,
      images,
      classes,
      train: split.train,
      val: split.val,
      model: { depths: report.model.depths, dims: report.model.dims },
      settings,
      lrs,
      engine_groups: Object.fromEntries(groups.map((g) => [g.officialName, [g.lrScale, g.weightDecay]])),
      engine_parameters: table.specs.reduce((n, sp) => n + sp.torchShape.reduce((x, y) => x * y, 1), 0),
      threads: a.threads !== undefined ? int('threads', a.threads, 1) : 1,
    };
    const jobPath = join(work, `pytorch-seed${seed}.job.json`);
    const resultPath = join(work, `pytorch-seed${seed}.result.json`);
    writeFileSync(jobPath, JSON.stringify(job));
    log(`seed ${seed}: engine val top-1 ${(100 * report.val_top1).toFixed(2)} % (${eng.seconds.toFixed(1)} s); PyTorch: ${python} scripts/finetune_pytorch.py`);
    const pyLog = join(work, `pytorch-seed${seed}.log`);
    const py = await run(python, [join(ROOT, 'scripts', 'finetune_pytorch.py'), '--job', jobPath, '--out', resultPath], pyLog).catch((e: Error) =>
      fail(`could not start ${python} (${e.message}); build the reference venv with /work/shared/scripts/reference-venv.sh /work/.refvenv or pass --python`),
    );
    if (py.code !== 0) fail(`PyTorch run failed (exit ${py.code}); ${pyLog}:\n${tail(pyLog)}`);
    const result = JSON.parse(readFileSync(resultPath, 'utf8')) as { val_top1: number; val_loss: number; val_images: number; train_seconds: number };
    log(`seed ${seed}: PyTorch val top-1 ${(100 * result.val_top1).toFixed(2)} % (${py.seconds.toFixed(1)} s)`);
    rows.push({
      seed,
      engine_top1: report.val_top1,
      pytorch_top1: result.val_top1,
      difference: report.val_top1 - result.val_top1,
      engine_wall_s: eng.seconds,
      pytorch_wall_s: py.seconds,
      engine_train_s: engineTrainS,
      pytorch_train_s: result.train_seconds,
      engine_val_loss: report.val_loss,
      pytorch_val_loss: result.val_loss,
      val_images: report.val_images,
    });
  }

  const mean = (f: (r: Row) => number) => rows.reduce((x, r) => x + f(r), 0) / rows.length;
  const sd = (f: (r: Row) => number) => {
    if (rows.length < 2) return null;
    const m = mean(f);
    return Math.sqrt(rows.reduce((x, r) => x + (f(r) - m) ** 2, 0) / (rows.length - 1));
  };
  const summary = {
    engine_top1: mean((r) => r.engine_top1),
    pytorch_top1: mean((r) => r.pytorch_top1),
    difference: mean((r) => r.difference),
    engine_top1_sd: sd((r) => r.engine_top1),
    pytorch_top1_sd: sd((r) => r.pytorch_top1),
    engine_wall_s: mean((r) => r.engine_wall_s),
    pytorch_wall_s: mean((r) => r.pytorch_wall_s),
  };
  const first = rows[0]!;
  const recipe = {
    classes,
    images_per_class: perClass,
    image_size: imageSize,
    data_seed: dataSeed,
    depths,
    dims,
    input_size: inputSize,
    batch_size: Number(a['batch-size']),
    steps,
    blr: Number(a.blr),
    val_fraction: valFraction,
    val_images: first.val_images,
    train_images: perClass * classes.length - first.val_images,
    chance_top1: 1 / classes.length,
    engine_settings: { ...engineSettings!, seed: undefined },
  };
  const es = engineSettings!;
  const note =
    'Not bit-identical: initial weights, batch order and augmentation draws come from different generators (engine streams vs torch), ' +
    'and float sums differ in order; the split, pixels, per-step lr, optimizer groups and recipe are the same. Compared: the accuracy reached.';

  if (a.json) {
    process.stdout.write(JSON.stringify({ recipe, rows, mean: summary, note, work: a.keep || a.work ? work : null }, null, 2) + '\n');
  } else {
    const pct = (x: number) => `${(100 * x).toFixed(2)} %`;
    const pp = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)} pp`;
    const secs = (x: number) => `${x.toFixed(1)} s`;
    const header = ['seed', 'engine val top-1', 'PyTorch val top-1', 'engine − PyTorch', 'engine wall', 'PyTorch wall'];
    const body = rows.map((r) => [String(r.seed), pct(r.engine_top1), pct(r.pytorch_top1), pp(r.difference), secs(r.engine_wall_s), secs(r.pytorch_wall_s)]);
    const sdText = (x: number | null) => (x === null ? '' : ` ± ${(100 * x).toFixed(2)}`);
    body.push([
      'mean',
      pct(summary.engine_top1) + sdText(summary.engine_top1_sd),
      pct(summary.pytorch_top1) + sdText(summary.pytorch_top1_sd),
      pp(summary.difference),
      secs(summary.engine_wall_s),
      secs(summary.pytorch_wall_s),
    ]);
    const widths = header.map((h, c) => Math.max(h.length, ...body.map((r) => r[c]!.length)));
    const line = (cells: string[]) => '| ' + cells.map((x, c) => (c === 0 ? x.padEnd(widths[c]!) : x.padStart(widths[c]!))).join(' | ') + ' |';
    const out = [
      `Fine-tuning from scratch: engine (fcmae finetune, WebGPU) vs PyTorch ${'+'} timm, same recipe`,
      `data: ${recipe.train_images} train / ${recipe.val_images} val images (stratified ${valFraction}, split seed = run seed), classes ${classes.join(', ')}, chance ${pct(recipe.chance_top1)}`,
      `model: depths ${depths}, dims ${dims}, GRN, random init; ${inputSize} px, batch ${recipe.batch_size}, ${steps} steps, blr ${recipe.blr}` +
        ` (peak lr ${(recipe.blr * recipe.batch_size / 256).toExponential(3)}), other settings as the engine's report: warmup ${es.warmupSteps}, ` +
        `weight decay ${es.weightDecay}, layer decay ${es.layerDecay}, label smoothing ${es.labelSmoothing}, drop path ${es.dropPath}`,
      '',
      line(header),
      '|' + widths.map((w, c) => (c === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|',
      ...body.slice(0, -1).map(line),
      line(body[body.length - 1]!),
      '',
      `(mean ± sample sd over ${rows.length} seed${rows.length > 1 ? 's' : ''}; one validation image = ${(100 / recipe.val_images).toFixed(2)} pp; wall = whole process, start-up included)`,
      note,
    ];
    process.stdout.write(out.join('\n') + '\n');
  }
  if (!a.keep && !a.work) rmSync(work, { recursive: true, force: true });
  else log(`work folder kept: ${work}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`finetune-vs-pytorch: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
