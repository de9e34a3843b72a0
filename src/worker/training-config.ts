// The worker's side of the run configuration (src/train/run-config.ts owns the type, defaults,
// validation and conversions): its rejections as WorkerErrors naming the field, and the plan
// figures the page shows before (or after) a plan is built. Pure: no GPU, no DOM.
import { memoryEstimate, macsPerImage, paramCounts } from '../train/estimates.ts';
import { effectiveLr } from '../train/lr-schedule.ts';
import { modelOf, patchesOf, RunConfigError, validateRunConfig, type RunConfig } from '../train/run-config.ts';
import { WorkerError, type PlanInfo } from './protocol.ts';

/** validateRunConfig with its rejection as WorkerError kind 'config' whose details.field names the setting. */
export function validateTrainingConfig(c: RunConfig): RunConfig {
  try {
    return validateRunConfig(c);
  } catch (e) {
    if (e instanceof RunConfigError) throw new WorkerError('config', e.message, `Change ${e.field} to an accepted value.`, { field: e.field, value: e.value });
    throw e;
  }
}

/** Figures shown before (or after, with bytesAllocated) a plan is built. */
export function planInfo(c: RunConfig, bytesAllocated: number | null = null): PlanInfo {
  const model = modelOf(c);
  const counts = paramCounts(model);
  const { L, V } = patchesOf(c);
  const work = { inputSize: c.inputSize, visible: V, denseEncoder: c.denseEncoder };
  const macs = macsPerImage(model, work);
  const memory = memoryEstimate(model, { ...work, batchSize: c.batchSize, freezeEncoder: c.freezeEncoder });
  return {
    paramCount: counts.total,
    encoderParamCount: counts.encoder,
    forwardMacsPerImage: macs.forward,
    trainMacsPerImage: macs.trainingStep,
    bytesEstimate: memory.totalBytes,
    bytesAllocated,
    largestBufferBytes: memory.largestBufferBytes,
    largestBufferName: memory.largestBufferName,
    patches: L,
    visiblePatches: V,
    effectiveMaskRatio: 1 - V / L,
    peakLr: effectiveLr(c.blr, c.batchSize),
  };
}
