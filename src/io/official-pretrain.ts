// Training checkpoints of the official FCMAE trainer (facebookresearch/ConvNeXt-V2
// main_pretrain.py, utils.save_model): {'model', 'optimizer', 'epoch', 'scaler', 'args'}, both
// ways. Writing one lets `main_pretrain.py --resume FILE` continue a playground run; reading one
// continues an official run here.
//
// - model: the FCMAE state dict in the official sparse layout (name-schemes.ts 'official-sparse'),
//   in FCMAE.named_parameters() order (official-order.ts).
// - optimizer: torch.optim.AdamW.state_dict() over main_pretrain.py's two groups [no-decay,
//   decay]: `state` keyed by int parameter index with `step` (a 0-dim float32 tensor, torch 2.x),
//   `exp_avg`, `exp_avg_sq` in the parameters' official shapes and layouts (AdamW is elementwise,
//   so the sparse-kernel permutation of a weight maps its moments too); `param_groups` with the
//   keys torch 2.x AdamW puts there.
// - epoch: the last finished epoch (the official resume starts at epoch + 1); epochs are
//   len(dataset) // eff_batch iterations.
// - scaler: the GradScaler state main_pretrain.py's NativeScaler saves. It always creates an
//   enabled GradScaler on a GPU and its load_state_dict refuses an empty dict, so the state is
//   the one an fp32 run reaches: scale 65536 doubled every 2000 finite steps.
// - args: an argparse.Namespace under the official argument names (informational there: the
//   official --resume keeps its own command line's args).
// Reading maps the optimizer's indices back through the same groups (the rule is recognised from
// the group sizes and checked against every moment's shape), and says what could not be taken.
import type { ModelConfig, StepOptions } from '../model/config.ts';
import type { StateDict } from '../model/state-dict.ts';
import type { WeightDecayRule } from '../ops/adamw.ts';
import type { TrainingSettings } from '../train/run-config.ts';
import { keptCount } from '../train/masking.ts';
import { learningRateAt, makeLrSchedule } from '../train/lr-schedule.ts';
import { readNativeCheckpoint, writeNativeCheckpoint, type AdamWState, type NativeCheckpoint } from './native-checkpoint.ts';
import { fromCanonical, toCanonical, type NamedTensor } from './name-schemes.ts';
import { officialGroups, officialParameterOrder, type OfficialParam } from './official-order.ts';
import { PickleDictWrite, PickleFloat, PickleNamespace, type PickleWritable } from './pickle-writer.ts';
import { PickleTuple } from './pickle-values.ts';
import { CheckpointError, detectCheckpointFormat, readTorchCheckpoint, TorchZipBuilder, type PlainValue, type TorchCheckpoint } from './pytorch.ts';
import { customConfig } from '../model/config.ts';

/** GradScaler defaults (torch.amp.GradScaler): initial scale 2^16, ×2 after 2000 finite steps. */
const SCALER_INIT = 65536;
const SCALER_GROWTH_INTERVAL = 2000;

/** A run's state as both directions carry it. */
export interface OfficialRunState {
  config: ModelConfig;
  options: StepOptions;
  training: TrainingSettings;
  /** Optimizer steps taken. */
  step: number;
  /** Canonical names, dense shapes. */
  params: StateDict;
  adamw: AdamWState | null;
}

export interface OfficialPretrainInput extends OfficialRunState {
  /** Images in the run's data set (the official epoch is len(dataset) // batch iterations). */
  datasetSize: number;
}

export interface OfficialPretrainExport {
  bytes: Uint8Array;
  /** The rule the run used (the groups follow it; 'official' is what main_pretrain.py builds). */
  rule: WeightDecayRule;
  /** Iterations per official epoch at this data set size and batch. */
  itersPerEpoch: number;
  /** The `epoch` entry (last finished epoch; -1 before the first). */
  epoch: number;
  /** Facts to print, one sentence each. */
  notes: string[];
  /** Differences the official resume will show, one sentence each. */
  warnings: string[];
}

/** convnextv2_<size> of models/fcmae.py, or convnextv2_custom. */
export function officialModelName(config: Pick<ModelConfig, 'size'>): string {
  return `convnextv2_${config.size ?? 'custom'}`;
}

/** The official epoch bookkeeping for a run: iterations per epoch and the epochs its steps make. */
export function officialEpochs(training: Pick<TrainingSettings, 'batchSize' | 'totalSteps' | 'warmupSteps'>, datasetSize: number) {
  const itersPerEpoch = Math.max(1, Math.floor(datasetSize / training.batchSize));
  return { itersPerEpoch, epochs: Math.max(1, Math.ceil(training.totalSteps / itersPerEpoch)), warmupEpochs: Math.round(training.warmupSteps / itersPerEpoch) };
}

const float = (x: number) => new PickleFloat(x);

/** torch 2.x AdamW param_group (keys in the order torch's state_dict gives them). */
function paramGroup(weightDecay: number, lr: number, a: { beta1: number; beta2: number; eps: number }, params: number[]): Record<string, PickleWritable> {
  return {
    weight_decay: float(weightDecay),
    lr: float(lr),
    betas: new PickleTuple([a.beta1, a.beta2]),
    eps: float(a.eps),
    amsgrad: false,
    maximize: false,
    foreach: null,
    capturable: false,
    differentiable: false,
    fused: null,
    decoupled_weight_decay: true,
    params,
  };
}

/** Writes the official training checkpoint of a run. */
export function writeOfficialPretrain(input: OfficialPretrainInput): OfficialPretrainExport {
  const { config, options, training, step, params, adamw } = input;
  const rule: WeightDecayRule = adamw?.settings.decayRule ?? 'maintainers';
  const order = officialParameterOrder(config);
  const groups = officialGroups(order, 'official');
  const notes: string[] = [];
  const warnings: string[] = [];
  const zip = new TorchZipBuilder();
  const toOfficial = (sd: StateDict, what: string): Map<string, NamedTensor> => {
    const { tensors, skipped } = fromCanonical(sd, 'official-sparse');
    if (skipped.length) throw new Error(`${what}: no official name for ${skipped.join(', ')}`);
    for (const p of order) if (!tensors.has(p.name)) throw new Error(`${what}: lacks ${p.canonical} (official ${p.name})`);
    return tensors;
  };
  const model = toOfficial(params, 'params');
  const modelOut = new Map<string, PickleWritable>(order.map((p) => [p.name, zip.tensor(model.get(p.name)!)]));

  const { itersPerEpoch, epochs, warmupEpochs } = officialEpochs(training, input.datasetSize);
  const schedule = makeLrSchedule({ blr: training.blr, batch: training.batchSize, warmupSteps: training.warmupSteps, totalSteps: training.totalSteps });
  const lr = step > 0 ? learningRateAt(step - 1, schedule) : 0;
  const a = adamw?.settings ?? { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.05 };
  const state: [number, PickleWritable][] = [];
  if (adamw && step > 0) {
    const m = toOfficial(adamw.m, 'AdamW m');
    const v = toOfficial(adamw.v, 'AdamW v');
    groups.byIndex.forEach((p, index) => {
      state.push([
        index,
        {
          step: zip.tensor({ shape: [], data: Float32Array.of(step) }),
          exp_avg: zip.tensor(m.get(p.name)!),
          exp_avg_sq: zip.tensor(v.get(p.name)!),
        },
      ]);
    });
  } else if (step > 0) {
    warnings.push(`no AdamW state in the source: the optimizer state is empty, so main_pretrain.py restarts the moments from zero at step ${step}`);
  }
  const n0 = groups.noDecay.length;
  const optimizer = {
    state: new PickleDictWrite(state),
    param_groups: [paramGroup(0, lr, a, groups.noDecay.map((_, i) => i)), paramGroup(a.weightDecay, lr, a, groups.decay.map((_, i) => n0 + i))],
  };

  const finished = Math.floor(step / itersPerEpoch);
  const epoch = finished - 1;
  if (step % itersPerEpoch !== 0) {
    warnings.push(
      `step ${step} is inside epoch ${finished} (${itersPerEpoch} iterations per epoch at ${input.datasetSize} images, batch ${training.batchSize}): ` +
        `the official --resume starts at epoch ${finished}, so its first ${step % itersPerEpoch} iterations run again on moments that already hold them`,
    );
  }
  const scaler = {
    scale: float(SCALER_INIT * 2 ** Math.floor(step / SCALER_GROWTH_INTERVAL)),
    growth_factor: float(2),
    backoff_factor: float(0.5),
    growth_interval: SCALER_GROWTH_INTERVAL,
    _growth_tracker: step % SCALER_GROWTH_INTERVAL,
  };
  const args = new PickleNamespace({
    batch_size: training.batchSize,
    epochs,
    warmup_epochs: warmupEpochs,
    update_freq: 1,
    model: officialModelName(config),
    input_size: training.inputSize,
    mask_ratio: float(training.maskRatio),
    norm_pix_loss: options.normPix,
    decoder_depth: config.decoderDepth,
    decoder_embed_dim: config.decoderDim,
    weight_decay: float(a.weightDecay),
    lr: float(schedule.peakLr),
    blr: float(training.blr),
    min_lr: float(schedule.minLr),
    data_path: '/path/to/dataset',
    output_dir: '',
    log_dir: null,
    device: 'cuda',
    seed: training.seed,
    resume: '',
    auto_resume: true,
    save_ckpt: true,
    save_ckpt_freq: 1,
    save_ckpt_num: 3,
    start_epoch: 0,
    num_workers: 10,
    pin_mem: true,
    crop_pct: null,
    world_size: 1,
    local_rank: -1,
    dist_on_itp: false,
    dist_url: 'env://',
    distributed: false,
  });
  const bytes = zip.finish({ model: modelOut, optimizer, epoch, scaler, args });

  notes.push(`model: ${order.length} tensors in the official sparse layout (${officialModelName(config)}); optimizer: AdamW state of ${state.length} parameters at step ${step}, groups [no-decay ${groups.noDecay.length}, decay ${groups.decay.length}] as main_pretrain.py builds them`);
  notes.push(`epoch ${epoch} (${itersPerEpoch} iterations per epoch at ${input.datasetSize} images, batch ${training.batchSize}; ${epochs} epochs with ${warmupEpochs} of warmup cover the run's ${training.totalSteps} steps)`);
  if (rule === 'official') notes.push('weight-decay rule: official (GRN gamma/beta and the mask token decay): the export matches main_pretrain.py');
  else {
    warnings.push(
      "this run used the maintainers' weight-decay rule (GRN gamma/beta and the mask token not decayed); main_pretrain.py decays them: its resume puts their moments in the decay group and decays them from here on (train with --weight-decay-rule official to match exactly)",
    );
  }
  if (!config.size) warnings.push(`custom sizes are not in models/fcmae.py: add convnextv2_custom (depths [${config.depths}], dims [${config.dims}]) before resuming`);
  if (!config.grn) warnings.push('this run has no GRN; the official model always has GRN, so its strict load will report the missing grn tensors');
  if (options.grnMode === 'per-sample') warnings.push('GRN statistics here were per sample; the official sparse GRN pools them over the whole batch');
  if (options.gelu === 'tanh') warnings.push('this run used the tanh GELU; the official model uses the exact (erf) form');
  if (options.denseEncoder) warnings.push('this run used the dense-encoder ablation; the official encoder is sparse');
  return { bytes, rule, itersPerEpoch, epoch, notes, warnings };
}

// ---- reading ----------------------------------------------------------------------------------

export interface OfficialPretrainImport extends OfficialRunState {
  epoch: number | null;
  /** Iterations per official epoch (step / (epoch + 1)) when the file tells. */
  itersPerEpoch: number | null;
  /** What was taken, one sentence each. */
  notes: string[];
  /** What could not be taken (or only approximately), one sentence each. */
  untaken: string[];
}

/** A torch checkpoint as the official trainer saves it: model + optimizer + args. */
export function isOfficialTrainingCheckpoint(ckpt: Pick<TorchCheckpoint, 'stateDictKey' | 'topLevelKeys'>): boolean {
  return ckpt.stateDictKey === 'model' && ckpt.topLevelKeys.includes('optimizer') && ckpt.topLevelKeys.includes('args');
}

type Obj = { [key: string]: PlainValue };
const isObj = (v: PlainValue | undefined): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

/** Reads an official training checkpoint (readTorchCheckpoint's result) into a run's state. */
export function readOfficialPretrain(ckpt: TorchCheckpoint): OfficialPretrainImport {
  const file = ckpt.fileName;
  const bad = (what: string): never => {
    throw new CheckpointError(file, 'not-a-state-dict', what);
  };
  const args = ckpt.extra.args;
  if (!isObj(args)) return bad(`'args' is not an argparse.Namespace; expected a checkpoint of the official main_pretrain.py`);
  const num = (k: string, fallback?: number): number => {
    const v = args[k];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    if (v === null || v === undefined) {
      if (fallback !== undefined) return fallback;
    }
    return bad(`args.${k} is ${JSON.stringify(v)}, expected a number`);
  };
  const canonical = toCanonical(new Map([...ckpt.stateDict].map(([k, t]) => [k, { shape: t.shape, data: t.data }])), { fileName: file, scheme: 'official-sparse' });
  const r = canonical.report;
  const problems = [...r.missing.map((n) => `missing ${n}`), ...r.misShaped.map((m) => `mis-shaped ${m.name}`), ...r.unexpected.map((n) => `unexpected ${n}`)];
  if (!r.decoderInFile) problems.push('no decoder (an encoder-only file is not a training checkpoint)');
  if (problems.length) bad(`'model' is not a complete official FCMAE: ${problems.slice(0, 4).join('; ')}`);
  const c = canonical.config;
  const config = customConfig(c.depths, c.dims, c.decoderDim, c.decoderDepth, c.grn ?? true);
  const params: StateDict = canonical.tensors;

  const notes: string[] = [];
  const untaken: string[] = [];
  // ---- optimizer: groups → rule, indices → names
  const opt = ckpt.extra.optimizer;
  const order = officialParameterOrder(config);
  let adamw: AdamWState | null = null;
  let step = 0;
  let rule: WeightDecayRule = 'official';
  let weightDecay = num('weight_decay', 0.05);
  let betas: [number, number] = [0.9, 0.95];
  let eps = 1e-8;
  if (!isObj(opt) || !Array.isArray(opt.param_groups) || !isObj(opt.state)) bad("'optimizer' is not a torch optimizer state_dict (state, param_groups)");
  const o = opt as Obj;
  const pg = o.param_groups as PlainValue[];
  const sizes = pg.map((g) => (isObj(g) && Array.isArray(g.params) ? g.params.length : -1));
  const matching = (['official', 'maintainers'] as const).find((rl) => {
    const g = officialGroups(order, rl);
    return pg.length === 2 && sizes[0] === g.noDecay.length && sizes[1] === g.decay.length;
  });
  if (!matching) bad(`optimizer param_groups hold (${sizes.join(', ')}) parameters; main_pretrain.py's [no-decay, decay] groups for this model hold (${officialGroups(order, 'official').noDecay.length}, ${officialGroups(order, 'official').decay.length})`);
  rule = matching!;
  const groups = officialGroups(order, rule);
  const g1 = pg[1] as Obj;
  const g0 = pg[0] as Obj;
  if (typeof g1.weight_decay === 'number') weightDecay = g1.weight_decay;
  if (g0.weight_decay !== 0) untaken.push(`the no-decay group has weight_decay ${JSON.stringify(g0.weight_decay)}; used 0 as main_pretrain.py does`);
  if (Array.isArray(g1.betas) && g1.betas.length === 2 && typeof g1.betas[0] === 'number' && typeof g1.betas[1] === 'number') betas = [g1.betas[0], g1.betas[1]];
  if (typeof g1.eps === 'number') eps = g1.eps;
  if (g1.amsgrad === true || g1.maximize === true) bad('optimizer uses amsgrad or maximize, which this engine does not implement');
  const indices = [...(g0.params as PlainValue[]), ...(g1.params as PlainValue[])];
  const state = o.state as Obj;
  const stateKeys = Object.keys(state);
  if (stateKeys.length) {
    const m = new Map<string, NamedTensor>();
    const v = new Map<string, NamedTensor>();
    const steps = new Set<number>();
    indices.forEach((idx, k) => {
      const p: OfficialParam = groups.byIndex[k]!;
      const key = `optimizer.state.${String(idx)}`;
      const ea = ckpt.extraTensors.get(`${key}.exp_avg`);
      const es = ckpt.extraTensors.get(`${key}.exp_avg_sq`);
      if (!ea || !es) bad(`optimizer state ${String(idx)} (${p.name}) lacks exp_avg / exp_avg_sq`);
      for (const t of [ea!, es!]) {
        if (t.shape.join() !== p.shape.join()) bad(`optimizer state ${String(idx)} has shape (${t.shape}); parameter ${p.name} (group ${k < groups.noDecay.length ? 0 : 1}) is (${p.shape})`);
      }
      m.set(p.name, { shape: ea!.shape, data: ea!.data });
      v.set(p.name, { shape: es!.shape, data: es!.data });
      const st = ckpt.extraTensors.get(`${key}.step`)?.data[0] ?? (state[String(idx)] as Obj | undefined)?.step;
      if (typeof st !== 'number') bad(`optimizer state ${String(idx)} has no step`);
      steps.add(st as number);
    });
    if (steps.size !== 1) bad(`optimizer states disagree on the step (${[...steps].join(', ')})`);
    step = [...steps][0]!;
    if (!Number.isInteger(step) || step < 1) bad(`optimizer step ${step} is not a positive integer`);
    const mC = toCanonical(m, { fileName: file, scheme: 'official-sparse', current: { ...config, numClasses: null } }).tensors;
    const vC = toCanonical(v, { fileName: file, scheme: 'official-sparse', current: { ...config, numClasses: null } }).tensors;
    adamw = { step, settings: { beta1: betas[0], beta2: betas[1], eps, weightDecay, ...(rule === 'official' ? { decayRule: 'official' as const } : {}) }, m: mC, v: vC };
    notes.push(`AdamW moments of ${indices.length} parameters at step ${step} (groups: ${rule} weight-decay rule, weight decay ${weightDecay}, betas (${betas.join(', ')}))`);
  } else {
    untaken.push('the optimizer state is empty (no step taken): the moments start from zero');
  }

  // ---- args → run settings
  const batch = num('batch_size');
  const updateFreq = num('update_freq', 1);
  const worldSize = num('world_size', 1);
  const effBatch = batch * updateFreq * worldSize;
  const lr = num('lr', NaN);
  const blr = Number.isFinite(lr) ? (lr * 256) / effBatch : num('blr');
  const inputSize = num('input_size');
  const maskRatio = num('mask_ratio');
  const epoch = typeof ckpt.extra.epoch === 'number' ? ckpt.extra.epoch : null;
  const epochs = num('epochs');
  const warmupEpochs = num('warmup_epochs');
  let itersPerEpoch: number;
  const told = epoch !== null && step > 0 && Number.isInteger(step / (epoch + 1));
  if (told) {
    itersPerEpoch = step / (epoch + 1);
    notes.push(`${itersPerEpoch} iterations per epoch (step ${step} after epoch ${epoch}): ${epochs} epochs = ${epochs * itersPerEpoch} steps, warmup ${warmupEpochs} epochs = ${warmupEpochs * itersPerEpoch} steps`);
  } else {
    itersPerEpoch = 1;
    untaken.push(`epochs → steps: the iterations per epoch cannot be told from epoch ${epoch} and step ${step}; took 1 (${epochs} steps, warmup ${warmupEpochs}); pass --steps and --warmup to set the schedule`);
  }
  const totalSteps = Math.max(epochs * itersPerEpoch, step + 1);
  const normPix = args.norm_pix_loss === true;
  const training: TrainingSettings = {
    inputSize,
    batchSize: effBatch,
    maskRatio,
    visiblePatches: keptCount((inputSize / 32) ** 2, maskRatio),
    blr,
    warmupSteps: Math.min(warmupEpochs * itersPerEpoch, totalSteps),
    totalSteps,
    seed: num('seed', 0),
  };
  const options: StepOptions = { grnMode: 'batch', gelu: 'erf', normPix, denseEncoder: false };
  notes.push(
    `settings from args: input ${inputSize} px, mask ratio ${maskRatio}, batch ${effBatch} (${batch} × update_freq ${updateFreq} × ${worldSize} GPUs), ` +
      `lr ${Number.isFinite(lr) ? lr : 'unset'} → blr ${blr}, norm_pix_loss ${normPix}, decoder ${config.decoderDepth}×${config.decoderDim}; GRN over the batch, exact GELU (as the official model)`,
  );
  if (updateFreq > 1 || worldSize > 1) untaken.push(`the official batch was split (update_freq ${updateFreq}, ${worldSize} GPUs); here one step takes all ${effBatch} images at once`);
  const minLr = num('min_lr', 0);
  if (minLr !== 0) untaken.push(`min_lr ${minLr}: this run's cosine ends at 0`);
  untaken.push('data order and augmentation: the official DistributedSampler and torchvision random state are not in the file; batches and masks come from this run\'s own seeded streams');
  untaken.push(`scaler (${isObj(ckpt.extra.scaler) && Object.keys(ckpt.extra.scaler).length ? 'GradScaler state' : 'empty'}): this engine trains in fp32 without loss scaling`);
  return { config, options, training, step, params, adamw, epoch, itersPerEpoch: told ? itersPerEpoch : null, notes, untaken };
}

/**
 * The official training checkpoint in `bytes` as a validated native checkpoint (the form every
 * resume path takes), with what was taken and what was not; null when the bytes are not a torch
 * file with 'model', 'optimizer' and 'args'.
 */
export function officialPretrainAsNative(bytes: Uint8Array, fileName: string): { checkpoint: NativeCheckpoint; imported: OfficialPretrainImport } | null {
  if (detectCheckpointFormat(bytes) !== 'torch-zip' && detectCheckpointFormat(bytes) !== 'torch-legacy') return null;
  const ckpt = readTorchCheckpoint(bytes, fileName);
  if (!isOfficialTrainingCheckpoint(ckpt)) return null;
  const imported = readOfficialPretrain(ckpt);
  const { config, options, training, step, params, adamw, epoch } = imported;
  const native = writeNativeCheckpoint({
    config,
    options,
    training,
    step: adamw ? step : 0,
    data: { source: `official training checkpoint ${fileName}${epoch !== null ? ` (epoch ${epoch})` : ''}`, imageCount: 0 },
    params,
    adamw,
  });
  return { checkpoint: readNativeCheckpoint(native, fileName), imported };
}
