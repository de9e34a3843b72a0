// The worker's checkpoints as files, without the GPU: a run's state encoded in each format the
// page offers (native with the full state and settings, the official layouts, timm) with its
// download name, and a dropped file read into what the run continues from (the configuration
// it implies and the weights and moments in the engine's layout), refused with a WorkerError
// that changes nothing when it does not fit.
import { fromCanonical, formatLoadReport, type LoadReport } from '../io/name-schemes.ts';
import { isNativeCheckpoint, openAnyCheckpoint, writeNativeCheckpoint, type DataSummary } from '../io/native-checkpoint.ts';
import { officialPretrainAsNative, writeOfficialPretrain } from '../io/official-pretrain.ts';
import { OFFICIAL_PRETRAIN_FILE } from '../io/official-commands.ts';
import { writeTorchCheckpoint } from '../io/pytorch.ts';
import { writeSafetensors } from '../io/safetensors.ts';
import { matchSize } from '../model/config.ts';
import { initialParams, paramTable, toEngineLayout } from '../model/parameters.ts';
import { stateDictFromFlat } from '../model/state-dict.ts';
import { adamwOf, classifyChange, modelOf, runConfigFromCheckpoint, stepOptionsOf, trainingSettingsOf, type RunConfig } from '../train/run-config.ts';
import type { TrainerState } from '../train/trainer.ts';
import { Random } from '../util/random.ts';
import { toWorkerError } from './errors.ts';
import { WorkerError, type CheckpointFormat, type SavedCheckpoint } from './protocol.ts';
import { validateTrainingConfig } from './training-config.ts';

/**
 * `state` (its moments needed for 'native') as a file of `format`. `built` is the config the
 * model was built for, `current` the run's settings now (live keys such as blr may have moved).
 */
export function encodeCheckpoint(format: CheckpointFormat, run: { built: RunConfig; current: RunConfig; state: TrainerState; data: DataSummary }): SavedCheckpoint {
  const { built, current, state, data } = run;
  const { step } = state;
  const table = paramTable(modelOf(built));
  const params = stateDictFromFlat(table, state.params);
  const size = matchSize(built.depths, built.dims) ?? 'custom';
  const base = `fcmae-convnextv2-${size}${built.grn ? '' : '-no-grn'}-${built.inputSize}px-step${step}`;
  const mimeType = 'application/octet-stream';
  if (format === 'native') {
    if (!state.m || !state.v) throw new WorkerError('internal', 'a native checkpoint needs the AdamW moments', 'Reload the page.');
    const bytes = writeNativeCheckpoint({
      config: modelOf(built),
      options: stepOptionsOf(built),
      training: trainingSettingsOf(current),
      step,
      data,
      params,
      adamw: { step, settings: adamwOf(built), m: stateDictFromFlat(table, state.m), v: stateDictFromFlat(table, state.v) },
    });
    return { format, bytes, fileName: `${base}.safetensors`, mimeType, step, skipped: [] };
  }
  if (format === 'official-pretrain') {
    const adamw = state.m && state.v && step > 0 ? { step, settings: adamwOf(built), m: stateDictFromFlat(table, state.m), v: stateDictFromFlat(table, state.v) } : null;
    const out = writeOfficialPretrain({ config: modelOf(built), options: stepOptionsOf(built), training: trainingSettingsOf(current), step, params, adamw, datasetSize: Math.max(1, data.imageCount) });
    return { format, bytes: out.bytes, fileName: OFFICIAL_PRETRAIN_FILE, mimeType, step, skipped: out.warnings };
  }
  const written = fromCanonical(params, format === 'timm' ? 'timm' : format);
  if (format === 'timm') {
    return { format, bytes: writeSafetensors(written.tensors), fileName: `convnextv2_${size}.fcmae-playground.step${step}.safetensors`, mimeType, step, skipped: written.skipped };
  }
  return { format, bytes: writeTorchCheckpoint(written.tensors, { step }), fileName: `${base}.${format}.pth`, mimeType, step, skipped: written.skipped };
}

/** A dropped checkpoint, checked and read, before the model is touched. */
export interface CheckpointForRun {
  /** The run configuration it implies (a native file's own settings; otherwise its model over the current settings). */
  next: RunConfig;
  /** Depths, dims, decoder or GRN differ from the current run's. */
  modelChanged: boolean;
  report: LoadReport;
  lines: string[];
  /** Optimizer steps the file had taken (0 unless native). */
  step: number;
  /**
   * The state to continue from: the file's tensors over `base` (the current weights when the
   * model is the same, else a fresh initialisation from the seed), its AdamW moments if it has them.
   */
  state(base: Float32Array | null): TrainerState;
}

export function openCheckpointForRun(bytes: Uint8Array, fileName: string, current: RunConfig): CheckpointForRun {
  let opened: ReturnType<typeof openAnyCheckpoint>;
  // an official training checkpoint (model + optimizer + args) is read as the native file it maps to
  let official: ReturnType<typeof officialPretrainAsNative> = null;
  try {
    official = isNativeCheckpoint(bytes) ? null : officialPretrainAsNative(bytes, fileName);
    opened = openAnyCheckpoint(official ? writeNativeCheckpoint(official.checkpoint) : bytes, fileName);
  } catch (e) {
    throw toWorkerError(e);
  }
  const report = opened.report;
  const lines = formatLoadReport(report);
  if (official) lines.push('official FCMAE training checkpoint', ...official.imported.notes, ...official.imported.untaken.map((u) => `not taken: ${u}`));
  if (report.loaded.length === 0) {
    throw new WorkerError('bad-checkpoint', `${fileName}: no tensor of the model could be loaded`, 'The current model is unchanged. Choose a ConvNeXt V2 / FCMAE checkpoint.', { lines });
  }
  if (report.misShaped.length) {
    throw new WorkerError('bad-checkpoint', `${fileName}: ${report.misShaped.length} tensors have unexpected shapes (${report.misShaped[0]!.name} …)`, 'The current model is unchanged. The file does not match any ConvNeXt V2 layout we know.', { lines });
  }
  const native = opened.native;
  const cc = report.config;
  let next: RunConfig = native
    ? runConfigFromCheckpoint(current, { config: native.config, options: native.options, training: native.training, adamwSettings: native.adamw?.settings })
    : {
        ...current,
        depths: [...cc.depths],
        dims: [...cc.dims],
        // a file without a decoder (released encoder-only, timm, HF) keeps the page's decoder settings
        ...(report.decoderInFile ? { decoderDim: cc.decoderDim, decoderDepth: cc.decoderDepth } : {}),
        grn: cc.grn ?? true,
      };
  try {
    next = validateTrainingConfig(next);
  } catch (e) {
    throw new WorkerError('bad-checkpoint', `${fileName}: its settings are not usable here (${(e as Error).message})`, 'The current model is unchanged.', { lines });
  }
  const changed = classifyChange(current, next).changed;
  const modelChanged = changed.some((k) => k === 'depths' || k === 'dims' || k === 'decoderDim' || k === 'decoderDepth' || k === 'grn');
  if (!report.decoderInFile) {
    lines.push(
      `no decoder in ${fileName}: the page's decoder (${next.decoderDepth}×${next.decoderDim}) is kept, ` +
        (modelChanged ? 'freshly initialised (the encoder differs from the current one)' : 'with its current weights') +
        '; "Train a decoder for this encoder" trains it with the encoder frozen',
    );
  }
  const step = native ? native.step : 0;
  const state = (base: Float32Array | null): TrainerState => {
    const table = paramTable(modelOf(next));
    const params = base && !modelChanged ? Float32Array.from(base) : initialParams(table, new Random(next.seed));
    for (const name of report.loaded) {
      const spec = table.byName.get(name);
      if (spec) params.set(toEngineLayout(spec, opened.tensors.get(name)!.data), spec.offset);
    }
    let m: Float32Array | null = null;
    let v: Float32Array | null = null;
    if (native?.adamw) {
      m = new Float32Array(table.totalFloats);
      v = new Float32Array(table.totalFloats);
      for (const spec of table.specs) {
        m.set(toEngineLayout(spec, native.adamw.m.get(spec.name)!.data), spec.offset);
        v.set(toEngineLayout(spec, native.adamw.v.get(spec.name)!.data), spec.offset);
      }
    }
    return { step, params, m, v };
  };
  return { next, modelChanged, report, lines, step, state };
}
