// Which kernel family an op runs: the adapter's plan ('gpu': workgroup trees and tiles;
// 'software': barrier-free kernels for CPU drivers such as SwiftShader, where a kernel with a
// barrier runs every invocation as a coroutine) and whether its subgroup variant is used. Tests
// force each choice so every variant runs on SwiftShader.
import type { Engine } from '../gpu/engine.ts';
import { OpShapeError } from './rows.ts';

/** Which kernels a plan runs: 'gpu' (workgroup trees) or 'software' (barrier-free, for CPU drivers). */
export type KernelPlan = 'gpu' | 'software';

/** The plan asked for, else the adapter's: software adapters (SwiftShader) get 'software'. */
export function kernelPlanOf(engine: Engine, plan?: KernelPlan): KernelPlan {
  return plan ?? (engine.ctx.adapter.isSoftware ? 'software' : 'gpu');
}

/**
 * Whether a kernel uses its subgroup variant: as asked (tests force both), else when the device
 * has 'subgroups'. Asking for it on a device without the feature is an error, not a fallback.
 */
export function subgroupsOf(engine: Engine, op: string, wanted?: boolean): boolean {
  const has = engine.ctx.device.features.has('subgroups');
  if (wanted && !has) throw new OpShapeError(`${op}: subgroup kernels asked for, but the device lacks the 'subgroups' feature; leave the option unset`);
  return wanted ?? has;
}
