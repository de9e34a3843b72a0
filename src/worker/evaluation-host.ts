// The worker's measurements of the encoder (protocol.ts "evaluation"): fine-tuning as a
// classifier, embedding labelled images, kNN / linear probes, the feature-collapse curve and
// the activation grid, on the run's current encoder or on a random one of
// the same architecture. A thin driver over src/train/finetune-run.ts and classify-all.ts (what
// the CLI's `finetune` and `embed` run too): it finds the labelled images, pauses pretraining,
// and reports progress as 'evaluation' events. kNN tracking (trackKnn) runs the same probe at the
// training loop's pause points, where the loop has already drained: it must not pause again.
import { balancedSubset, LabelledBatches, stratifiedSplit } from '../data/labelled-batches.ts';
import { makeEvalBatch } from '../data/augment.ts';
import { parseDemoManifest, unpackFashion } from '../data/demo.ts';
import type { PixelImage } from '../data/image.ts';
import type { Engine } from '../gpu/engine.ts';
import { classifierWeightsFromTensors, randomClassifierWeights, type ClassifierWeights } from '../io/classifier-weights.ts';
import { stateDictFromFlat } from '../model/state-dict.ts';
import { ClassifierTrainer } from '../train/classifier-trainer.ts';
import { classifyAll, classifyWith } from '../train/classify-all.ts';
import { predictions } from '../train/classification-metrics.ts';
import { ActivationBlockError, activationMaps, checkActivationBlock, featureCollapse } from '../train/feature-collapse.ts';
import { knnPredict, KNN_DEFAULTS, LINEAR_PROBE_DEFAULTS, linearProbeLogits, trainLinearProbe, type Features } from '../train/probes.ts';
import { fineTunePreset, FineTuneConfigError, lrScheduleOfFineTune, paramGroupSettingsOf, validateFineTuneConfig, type FineTuneConfig } from '../train/finetune-config.ts';
import { runFineTune } from '../train/finetune-run.ts';
import { learningRateAt } from '../train/lr-schedule.ts';
import { modelOf, type RunConfig } from '../train/run-config.ts';
import { raceCancellation, throwIfCancelled } from './cancellation.ts';
import type { DatasetHost } from './dataset-host.ts';
import type { WorkerEvents } from './events.ts';
import type { ModelHost } from './model-host.ts';
import { toWorkerError } from './errors.ts';
import {
  WorkerError,
  type ActivationGridRequest,
  type ActivationGridResult,
  type ActivationGridView,
  type CollapseRequest,
  type CollapseResultView,
  type EmbedRequest,
  type EmbedResult,
  type EncoderChoice,
  type EvaluationProgressEvent,
  type FineTuneRequest,
  type FineTuneResult,
  type KnnTracking,
  type LabelledSource,
  type ProbeRequest,
  type ProbeResult,
} from './protocol.ts';

interface LabelledSet {
  images: PixelImage[];
  labels: Int32Array;
  classes: string[];
}

export class EvaluationHost {
  private fashion: Promise<LabelledSet> | null = null;

  constructor(
    private readonly models: ModelHost,
    private readonly data: DatasetHost,
    private readonly events: WorkerEvents,
    private readonly demoBaseUrl: string,
    private readonly host: {
      config(): RunConfig;
      /** Runs fn with the pretraining loop stopped, restarting it afterwards if it was running. */
      whilePaused<T>(fn: () => Promise<T>): Promise<T>;
      /** The run's model, built from the current configuration when there is none yet. */
      ensureModel(): Promise<unknown>;
    },
  ) {}

  // ---- data

  private loadFashion(signal: AbortSignal): Promise<LabelledSet> {
    this.fashion ??= (async () => {
      const manifestUrl = new URL('demo/manifest.json', this.demoBaseUrl);
      const response = await fetch(manifestUrl);
      if (!response.ok) throw new WorkerError('no-dataset', `demo manifest ${manifestUrl}: HTTP ${response.status}`, 'Rebuild the demo set (npx tsx scripts/build-demo-dataset.ts) and reload.');
      const manifest = parseDemoManifest(await response.json());
      const file = await fetch(new URL(manifest.fashion.file, manifestUrl));
      if (!file.ok) throw new WorkerError('no-dataset', `labelled demo set ${manifest.fashion.file}: HTTP ${file.status}`, 'Rebuild the demo set and reload.');
      return unpackFashion(new Uint8Array(await file.arrayBuffer()), manifest.fashion);
    })();
    this.fashion.catch(() => (this.fashion = null));
    return raceCancellation(this.fashion, signal, 'loading the labelled demo set');
  }

  /** The loaded data set with its class folders; refuses one without two of them, saying what to do instead. */
  private labelledDataset() {
    const dataset = this.data.require();
    const classes = dataset.summary().classes;
    if (classes.length < 2) {
      throw new WorkerError('no-dataset', `${dataset.name} has ${classes.length ? 'one class folder' : 'no class folders'}: fine-tuning and probes need labelled images (one subfolder per class)`, 'Drop a folder with one subfolder per class, or use the labelled demo set.');
    }
    return { dataset, classes };
  }

  /**
   * Labelled image `index` of `source` alone (the order `labelled` reads them in), decoding no
   * other image: what the activation grid looks at.
   */
  private async labelledImage(source: LabelledSource, index: number, signal: AbortSignal): Promise<{ image: PixelImage; className: string; count: number }> {
    const outside = (count: number) =>
      new WorkerError('config', `image ${index} is not among the ${count} labelled images of ${source === 'fashion-demo' ? 'the demo set' : 'the data set'}`, `Choose an image from 0 to ${count - 1}.`, { field: 'image', value: index });
    if (source === 'fashion-demo') {
      const set = await this.loadFashion(signal);
      if (!Number.isInteger(index) || index < 0 || index >= set.images.length) throw outside(set.images.length);
      return { image: set.images[index]!, className: set.classes[set.labels[index]!]!, count: set.images.length };
    }
    const { dataset } = this.labelledDataset();
    const slots = dataset.usableSlots().filter((slot) => dataset.labelOf(slot) !== undefined);
    if (!Number.isInteger(index) || index < 0 || index >= slots.length) throw outside(slots.length);
    throwIfCancelled(signal, 'reading the image');
    const image = await dataset.image(slots[index]!);
    if (!image) throw new WorkerError('no-dataset', `labelled image ${index} of ${dataset.name} could not be decoded`, 'Choose another image.', { field: 'image', value: index });
    return { image, className: dataset.labelOf(slots[index]!)!, count: slots.length };
  }

  /** The labelled images of `source`, decoded; refuses an unlabelled data set with what to do instead. */
  private async labelled(source: LabelledSource, signal: AbortSignal, task: EvaluationProgressEvent['task']): Promise<LabelledSet> {
    if (source === 'fashion-demo') return this.loadFashion(signal);
    const { dataset, classes } = this.labelledDataset();
    const classIndex = new Map(classes.map((c, i) => [c, i]));
    const images: PixelImage[] = [];
    const labels: number[] = [];
    const slots = dataset.usableSlots();
    let done = 0;
    for (const slot of slots) {
      throwIfCancelled(signal, 'reading the labelled images');
      const label = dataset.labelOf(slot);
      const im = label !== undefined ? await dataset.image(slot) : null;
      if (im && label !== undefined) {
        images.push(im);
        labels.push(classIndex.get(label)!);
      }
      this.events.emitThrottled('evaluation', () => ({ type: 'evaluation', task, phase: 'data', done, total: slots.length }));
      done++;
    }
    return { images, labels: Int32Array.from(labels), classes };
  }

  // ---- encoder

  private async engine(): Promise<Engine> {
    return this.models.ensureEngine();
  }

  /** The classifier's starting weights: the run's encoder (its weights now) or a random one; the head new for `K` classes. */
  private async weights(choice: EncoderChoice, K: number, seed: number): Promise<{ weights: ClassifierWeights; pretrainStep: number }> {
    const c = this.host.config();
    if (choice === 'random') {
      return { weights: randomClassifierWeights(modelOf(c), K, seed), pretrainStep: 0 };
    }
    const model = this.models.model;
    if (!model) throw new WorkerError('internal', 'the model went away while the evaluation started', 'Try again.');
    const state = await model.trainer.saveState(false);
    const tensors = stateDictFromFlat(model.trainer.plan.table, state.params);
    const m = model.trainer.settings.config;
    return { weights: classifierWeightsFromTensors(tensors, m, null, K, seed, `the encoder at step ${state.step}`), pretrainStep: state.step };
  }

  // ---- fine-tuning

  async finetune(request: FineTuneRequest, signal: AbortSignal): Promise<FineTuneResult> {
    const c = this.host.config();
    const seed = request.seed ?? c.seed;
    let settings: FineTuneConfig;
    try {
      const base = fineTunePreset(request.preset ?? 'small-data', { totalSteps: request.settings?.totalSteps ?? 200, seed, inputSize: c.inputSize });
      settings = validateFineTuneConfig({ ...base, ...request.settings, seed });
    } catch (e) {
      if (e instanceof FineTuneConfigError) throw new WorkerError('config', e.message, 'Choose another value.', { field: e.setting, value: request.settings?.[e.setting] });
      throw e;
    }
    return this.host.whilePaused(async () => {
      if (request.encoder === 'current') await this.host.ensureModel();
      return this.cancellable(signal, 'fine-tuning', () => this.models.gpuLock.run(async () => {
        const set = await this.labelled(request.data, signal, 'finetune');
        const split = stratifiedSplit(set.labels, request.valFraction ?? 0.2, seed);
        if (!split.val.length) throw new WorkerError('no-dataset', 'too few labelled images to hold any back for validation', 'Add images (at least 2 per class).');
        const K = set.classes.length;
        const { weights, pretrainStep } = await this.weights(request.encoder, K, seed);
        const engine = await this.engine();
        const schedule = lrScheduleOfFineTune(settings);
        const S = settings.inputSize;
        let trainer: ClassifierTrainer | null = null;
        let evaluator: ClassifierTrainer | null = null;
        try {
          trainer = await ClassifierTrainer.create(
            engine,
            {
              config: weights.config,
              numClasses: K,
              batchSize: settings.batchSize,
              inputSize: S,
              options: { labelSmoothing: settings.labelSmoothing, dropPath: settings.dropPath, emaDecay: settings.emaDecay },
              groups: paramGroupSettingsOf(settings),
              learningRate: (k) => learningRateAt(k - 1, schedule),
              seed,
            },
            weights.flat,
          );
          const t = trainer;
          const batches = new LabelledBatches(set.images, set.labels, split.train, settings.batchSize, S, seed);
          const valLabels = Int32Array.from(split.val, (i) => set.labels[i]!);
          const curve: FineTuneResult['curve'] = [];
          const evaluations: FineTuneResult['evaluations'] = [];
          const end = await runFineTune({
            trainer: t,
            settings,
            startStep: 0,
            batchFor: (k) => batches.batchFor(k),
            validation: { count: split.val.length, imagesOf: (start, n) => makeEvalBatch(set.images, split.val.slice(start, start + n), S), labels: valLabels },
            evaluator: async (params, k) => {
              evaluator ??= await ClassifierTrainer.create(engine, { ...t.settings, batchSize: Math.min(64, split.val.length), options: { labelSmoothing: settings.labelSmoothing } }, params);
              evaluator.restoreState({ step: k, params, m: null, v: null });
              return evaluator;
            },
            signal,
            onStep: (r) => {
              curve.push({ step: r.step, loss: r.loss, lr: r.lr });
              this.events.emitThrottled('evaluation', () => ({ type: 'evaluation', task: 'finetune', phase: 'train', done: r.step, total: settings.totalSteps, loss: r.loss, valTop1: evaluations.at(-1)?.top1 }), r.step === settings.totalSteps);
            },
            onEvaluation: (e) => evaluations.push({ step: e.step, top1: e.report.top1, loss: e.loss }),
            betweenSteps: () => new Promise((r) => setTimeout(r, 0)),
          });
          if (end.failure) throw toWorkerError(end.failure.error);
          if (!end.final) throw new WorkerError('cancelled', `fine-tuning cancelled at step ${end.lastStep}`, 'Start it again.');
          const report = end.final.report;
          return {
            encoder: request.encoder,
            data: request.data,
            pretrainStep,
            classes: set.classes,
            trainCount: split.train.length,
            valCount: split.val.length,
            top1: report.top1,
            perClass: report.perClass,
            confusion: report.confusion,
            curve,
            evaluations,
            settings,
            notes: weights.notes,
          };
        } finally {
          trainer?.destroy();
          (evaluator as ClassifierTrainer | null)?.destroy();
        }
      }));
    });
  }

  // ---- embedding

  async embed(request: EmbedRequest, signal: AbortSignal): Promise<EmbedResult> {
    const c = this.host.config();
    const seed = request.seed ?? c.seed;
    const S = request.inputSize ?? c.inputSize;
    return this.host.whilePaused(async () => {
      if (request.encoder === 'current') await this.host.ensureModel();
      return this.cancellable(signal, 'embedding', () => this.models.gpuLock.run(async () => {
        const set = await this.labelled(request.data, signal, 'embed');
        const { weights, pretrainStep } = await this.weights(request.encoder, 1, seed);
        const engine = await this.engine();
        const count = set.images.length;
        const trainer = await ClassifierTrainer.create(
          engine,
          { config: weights.config, numClasses: 1, batchSize: Math.min(32, count), inputSize: S, groups: { layerDecay: 1, weightDecay: 0 }, learningRate: () => 0, seed },
          weights.flat,
        );
        try {
          const r = await classifyAll(trainer, count, (start, n) => makeEvalBatch(set.images, Array.from({ length: n }, (_, i) => start + i), S), null, {
            signal,
            onProgress: (done, total) => this.events.emitThrottled('evaluation', () => ({ type: 'evaluation', task: 'embed', phase: 'evaluate', done, total }), done === total),
          });
          return { encoder: request.encoder, data: request.data, pretrainStep, count, dim: weights.config.dims[3]!, features: r.features, labels: set.labels, classes: set.classes };
        } finally {
          trainer.destroy();
        }
      }));
    });
  }

  // ---- probes and feature collapse

  async probe(request: ProbeRequest, signal: AbortSignal): Promise<ProbeResult> {
    return this.host.whilePaused(async () => {
      if (request.encoder === 'current') await this.host.ensureModel();
      return this.cancellable(signal, 'the probe', () => this.models.gpuLock.run(() => this.probeNow(request, signal)));
    });
  }

  /**
   * The probe itself, with pretraining already stopped (or drained at a pause point) and the GPU
   * lock held: what the "kNN probe" button and kNN tracking both run.
   */
  private async probeNow(request: ProbeRequest, signal: AbortSignal): Promise<ProbeResult> {
    const c = this.host.config();
    const seed = request.seed ?? c.seed;
    const S = request.inputSize ?? c.inputSize;
    const all = await this.labelled(request.data, signal, 'probe');
    const pool = request.maxImages === undefined ? null : balancedSubset(all.labels, request.maxImages);
    const set: LabelledSet = pool ? { images: pool.map((i) => all.images[i]!), labels: Int32Array.from(pool, (i) => all.labels[i]!), classes: all.classes } : all;
    const split = stratifiedSplit(set.labels, request.valFraction ?? 0.2, seed);
    if (!split.val.length) throw new WorkerError('no-dataset', 'too few labelled images to hold any back for validation', 'Add images (at least 2 per class).');
    const K = set.classes.length;
    const engine = await this.engine();
    const { weights, pretrainStep } = await this.weights(request.encoder, 1, seed);
    const trainY = Int32Array.from(split.train, (i) => set.labels[i]!);
    const valY = Int32Array.from(split.val, (i) => set.labels[i]!);
    const total = (split.train.length + split.val.length) * (request.baseline === false ? 1 : 2);
    let done = 0;
    const top1Of = async (w: { config: ClassifierWeights['config']; numClasses: number; flat: Float32Array }): Promise<number> => {
      const featuresOf = async (indices: number[]): Promise<Features> => {
        const r = await classifyWith(engine, w, S, indices.length, (start, n) => makeEvalBatch(set.images, indices.slice(start, start + n), S), {
          signal,
          onProgress: (d) => this.events.emitThrottled('evaluation', () => ({ type: 'evaluation', task: 'probe', phase: 'evaluate', done: done + d, total })),
        });
        done += indices.length;
        return { data: r.features, count: indices.length, dim: w.config.dims[3]! };
      };
      const [ft, fv] = [await featuresOf(split.train), await featuresOf(split.val)];
      const predicted =
        request.method === 'knn'
          ? knnPredict(ft, trainY, fv, { k: request.k ?? KNN_DEFAULTS.k, temperature: request.temperature ?? KNN_DEFAULTS.temperature, numClasses: K })
          : predictions(Float32Array.from(linearProbeLogits(trainLinearProbe(ft, trainY, { numClasses: K, epochs: request.epochs ?? LINEAR_PROBE_DEFAULTS.epochs, lr: request.lr ?? LINEAR_PROBE_DEFAULTS.lr, momentum: LINEAR_PROBE_DEFAULTS.momentum }), fv)), fv.count, K);
      return predicted.reduce((a, p, i) => a + (p === valY[i] ? 1 : 0), 0) / predicted.length;
    };
    const top1 = await top1Of(weights);
    const baselineTop1 = request.baseline === false ? null : await top1Of(randomClassifierWeights(weights.config, 1, seed));
    return { encoder: request.encoder, data: request.data, method: request.method, pretrainStep, classes: set.classes, trainCount: split.train.length, valCount: split.val.length, top1, baselineTop1 };
  }

  // ---- kNN tracking during pretraining

  /** The random-init kNN figure of the tracked run, measured once per architecture, seed and data. */
  private trackBaseline: { key: string; top1: number } | null = null;

  /**
   * Called by the run's loop at a pause point (nothing in flight, the weights after `step`):
   * the kNN probe of the current encoder on the tracking subset.
   */
  async trackKnn(tracking: KnnTracking, step: number, signal: AbortSignal): Promise<ProbeResult> {
    const c = this.host.config();
    const key = JSON.stringify([c.depths, c.dims, c.grn, c.inputSize, c.seed, tracking.data, tracking.maxImages]);
    const known = this.trackBaseline?.key === key ? this.trackBaseline.top1 : null;
    const r = await this.cancellable(signal, `kNN tracking at step ${step}`, () =>
      this.models.gpuLock.run(() => this.probeNow({ encoder: 'current', data: tracking.data, method: 'knn', maxImages: tracking.maxImages, baseline: known === null }, signal)),
    );
    if (r.baselineTop1 !== null) this.trackBaseline = { key, top1: r.baselineTop1 };
    return { ...r, baselineTop1: r.baselineTop1 ?? known };
  }

  async collapse(request: CollapseRequest, signal: AbortSignal): Promise<CollapseResultView> {
    const c = this.host.config();
    const seed = request.seed ?? c.seed;
    const S = request.inputSize ?? c.inputSize;
    return this.host.whilePaused(async () => {
      if (request.encoder === 'current') await this.host.ensureModel();
      return this.cancellable(signal, 'the collapse analysis', () => this.models.gpuLock.run(async () => {
        const set = await this.labelled(request.data, signal, 'collapse');
        const n = set.images.length;
        const count = Math.min(n, request.maxImages ?? 16);
        const picked = Array.from({ length: count }, (_, i) => Math.floor((i * n) / count));
        const engine = await this.engine();
        const { weights, pretrainStep } = await this.weights(request.encoder, 1, seed);
        const runs = request.baseline === false ? 1 : 2;
        const analyse = (w: { config: ClassifierWeights['config']; numClasses: number; flat: Float32Array }, run: number) =>
          featureCollapse(engine, w, S, count, (i) => makeEvalBatch(set.images, [picked[i]!], S), {
            signal,
            onProgress: (d) => this.events.emitThrottled('evaluation', () => ({ type: 'evaluation', task: 'collapse', phase: 'evaluate', done: run * count + d, total: runs * count })),
          });
        const r = await analyse(weights, 0);
        const b = request.baseline === false ? null : await analyse(randomClassifierWeights(weights.config, 1, seed), 1);
        return { encoder: request.encoder, data: request.data, pretrainStep, images: count, blocks: r.blocks, distance: r.distance, baselineDistance: b ? b.distance : null };
      }));
    });
  }

  async activationGrid(request: ActivationGridRequest, signal: AbortSignal): Promise<ActivationGridResult> {
    const c = this.host.config();
    const seed = request.seed ?? c.seed;
    const S = request.inputSize ?? c.inputSize;
    // a block the model lacks is refused before pretraining pauses
    try {
      checkActivationBlock(c.depths, request.stage, request.block);
    } catch (e) {
      if (e instanceof ActivationBlockError) throw new WorkerError('config', `activation grid: ${e.message}`, `Choose a block the model has (depths ${c.depths.join(',')}).`, { field: 'block', value: e.block });
      throw e;
    }
    return this.host.whilePaused(async () => {
      if (request.encoder === 'current') await this.host.ensureModel();
      return this.cancellable(signal, 'the activation grid', () => this.models.gpuLock.run(async () => {
        const picked = await this.labelledImage(request.data, request.image, signal);
        const image = makeEvalBatch([picked.image], [0], S);
        const engine = await this.engine();
        const { weights, pretrainStep } = await this.weights(request.encoder, 1, seed);
        const runs = request.baseline === false ? 1 : 2;
        const gridOf = async (w: { config: ClassifierWeights['config']; numClasses: number; flat: Float32Array }, run: number): Promise<ActivationGridView> => {
          throwIfCancelled(signal, 'the activation grid');
          const a = await activationMaps(engine, w, S, image, request.stage, request.block);
          this.events.emitThrottled('evaluation', () => ({ type: 'evaluation', task: 'grid', phase: 'evaluate', done: run + 1, total: runs }), true);
          const plane = a.width * a.height;
          const maps = new Float32Array(a.maps.length * plane); // (count, height, width)
          a.maps.forEach((m, k) => maps.set(m, k * plane));
          return { width: a.width, height: a.height, channels: a.channels, count: a.maps.length, maps };
        };
        const current = await gridOf(weights, 0);
        const baseline = request.baseline === false ? null : await gridOf(randomClassifierWeights(weights.config, 1, seed), 1);
        return { encoder: request.encoder, data: request.data, pretrainStep, stage: request.stage, block: request.block, image: request.image, images: picked.count, className: picked.className, current, baseline };
      }));
    });
  }

  /** An abort anywhere inside (the step loop, a forward pass, the data) rejects as a 'cancelled' WorkerError. */
  private async cancellable<T>(signal: AbortSignal, what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (signal.aborted) throw new WorkerError('cancelled', `${what} cancelled`, 'Start it again.');
      throw e;
    }
  }
}
