// `analyze`: feature collapse (the paper's Fig. 4; evaluation-spec §4, §6): per encoder block,
// the average pairwise channel cosine distance of its expansion activations over the images,
// for the checkpoint and a random initialisation of the same architecture beside it; JSON
// (`cosine_distance`, stage 0 block 0 first) and optionally a PNG plot against the normalised
// block index (checkpoint blue, random-init grey).
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { classifierWeightsFrom, randomClassifierWeights } from '../../io/classifier-weights.ts';
import { openAnyCheckpoint } from '../../io/native-checkpoint.ts';
import { linePlot } from '../../io/line-plot.ts';
import { activationGridImage } from '../../io/activation-grid.ts';
import { encodePng } from '../../io/png.ts';
import { parseSafetensors } from '../../io/safetensors.ts';
import { validateInputSize } from '../../model/config.ts';
import { ActivationBlockError, activationMaps, featureCollapse, parseActivationBlock, type CollapseResult } from '../../train/feature-collapse.ts';
import { Options, UsageError } from '../args.ts';
import type { CliContext } from '../context.ts';
import { evalImagesOf, loadLabelledFolder } from '../labelled-folder.ts';

export const analyzeUsage =
  'analyze --checkpoint FILE (--batch FILE | --images DIR [--input-size S]) --out R.json [--plot P.png] [--max-images N] [--baseline true|false] [--seed S] [--grid G.png [--grid-block S.B] [--grid-image I]]';

const CMD = 'analyze';

export async function analyzeCommand(argv: string[], cli: CliContext): Promise<void> {
  const o = Options.parse(CMD, argv, {
    checkpoint: { type: 'string' },
    batch: { type: 'string' },
    images: { type: 'string' },
    'input-size': { type: 'string' },
    'max-images': { type: 'string' },
    baseline: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    plot: { type: 'string' },
    grid: { type: 'string' },
    'grid-block': { type: 'string' },
    'grid-image': { type: 'string' },
  });
  if (o.has('batch') === o.has('images')) throw new UsageError(`${CMD}: give exactly one of --batch FILE and --images DIR`);
  if (o.has('batch') && o.has('input-size')) throw new UsageError(`${CMD}: --input-size applies to --images only (a batch file has its own size)`);
  const out = o.string('out');
  const plot = o.string('plot', undefined);
  const maxImages = o.number('max-images', 16, { integer: true, min: 1, max: 4096 });
  const baseline = o.bool('baseline', true);
  const seed = o.number('seed', 0, { integer: true, min: 0, max: 2 ** 32 - 1 });
  const ckptPath = o.string('checkpoint');
  const ckpt = openAnyCheckpoint(o.file('checkpoint', ckptPath), basename(ckptPath));
  const weights = classifierWeightsFrom(ckpt, 1, seed);

  let size: number;
  let count: number;
  let imageOf: (i: number) => Float32Array;
  if (o.has('batch')) {
    const path = o.string('batch');
    const imgs = parseSafetensors(o.file('batch', path), { source: basename(path) }).tensors.get('imgs');
    if (!imgs || imgs.shape.length !== 4 || imgs.shape[1] !== 3) throw new UsageError(`${CMD}: ${basename(path)}: needs 'imgs' (N, 3, H, W)`);
    const [N, , H, W] = imgs.shape as [number, number, number, number];
    if (H !== W) throw new UsageError(`${CMD}: ${basename(path)}: imgs is ${H}×${W}; square inputs only`);
    validateInputSize(H, W);
    size = H;
    count = Math.min(N, maxImages);
    const per = 3 * H * W;
    imageOf = (i) => imgs.data.slice(i * per, (i + 1) * per);
  } else {
    size = o.number('input-size', 224, { integer: true, min: 32 });
    validateInputSize(size, size);
    const folder = await loadLabelledFolder(o.string('images'), size, cli, CMD, 'images');
    // spread over the folder (every class, when it is labelled and sorted by class)
    const n = folder.images.length;
    count = Math.min(n, maxImages);
    const picked = Array.from({ length: count }, (_, i) => Math.floor((i * n) / count));
    const view = evalImagesOf(folder.images, size, picked);
    imageOf = (i) => view(i, 1);
  }
  const grid = o.string('grid', undefined);
  let gridBlock: [number, number] = [2, 0];
  if (o.has('grid-block')) {
    try {
      gridBlock = parseActivationBlock(o.string('grid-block'), weights.config.depths);
    } catch (e) {
      if (e instanceof ActivationBlockError) throw new UsageError(`${CMD}: --grid-block ${o.string('grid-block')}: ${e.expectation}`);
      throw e;
    }
  }
  const gridImage = o.number('grid-image', 0, { integer: true, min: 0, max: count - 1 });
  const engine = await cli.engine();
  const run = (w: Parameters<typeof featureCollapse>[1]) => featureCollapse(engine, w, size, count, imageOf);
  const result = await run(weights);
  const random: CollapseResult | null = baseline ? await run(randomClassifierWeights(weights.config, 1, seed)) : null;
  writeFileSync(
    out,
    JSON.stringify(
      {
        cosine_distance: result.distance,
        blocks: result.blocks.map((b) => ({ stage: b.stage, block: b.block, channels: b.channels, normalised_index: b.normalisedIndex })),
        per_image: result.perImage,
        baseline: random ? { encoder: `random initialisation (seed ${seed})`, cosine_distance: random.distance } : null,
        images: count,
        input_size: size,
        grn: weights.config.grn,
        checkpoint: ckpt.fileName,
        definition: 'per block: mean over images of (1/C′²)·Σ_ij (1 − cos(X_i, X_j))/2 over the channels of the activations pwconv2 reads (after GRN; after GELU without GRN), evaluation-spec §4',
      },
      null,
      2,
    ) + '\n',
  );
  if (plot) {
    const series = [
      ...(random ? [{ points: random.blocks.map((b, k): [number, number] => [b.normalisedIndex, random.distance[k]!]), color: [150, 150, 150] as [number, number, number] }] : []),
      { points: result.blocks.map((b, k): [number, number] => [b.normalisedIndex, result.distance[k]!]), color: [31, 119, 180] as [number, number, number] },
    ];
    writeFileSync(plot, encodePng(linePlot(series, { xRange: [0, 1], yRange: [0, 0.5], xTicks: [0, 0.25, 0.5, 0.75, 1], yTicks: [0, 0.1, 0.2, 0.3, 0.4, 0.5] })));
  }
  if (grid) {
    const a = await activationMaps(engine, weights, size, imageOf(gridImage), gridBlock[0], gridBlock[1]);
    writeFileSync(grid, encodePng(activationGridImage(a)));
    cli.log(`activation grid: stage ${gridBlock[0]} block ${gridBlock[1]}, image ${gridImage}, the first ${a.maps.length} of ${a.channels} channels, each scaled to [0, 1]: ${grid}`);
  }
  const fmt = (d: number[]) => d.map((v) => v.toFixed(3)).join(' ');
  cli.log(`feature collapse over ${count} images, ${result.blocks.length} blocks (stage 0 block 0 first): ${fmt(result.distance)}`);
  if (random) cli.log(`random-init baseline: ${fmt(random.distance)}`);
  cli.log(`written to ${out}${plot ? ` and ${plot} (x: normalised block index, y: distance; blue: checkpoint, grey: random init)` : ''}`);
}
