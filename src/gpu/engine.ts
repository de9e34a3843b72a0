// The engine handle every op, model and trainer receives: the device context, the pipeline
// cache and the readback pool. It holds no DOM or Node specifics, so the worker, the CLI and
// the tests all run the same code.
import { ReadbackPool } from './buffers.ts';
import type { GpuContext } from './device.ts';
import { KernelCache } from './kernels.ts';
import type { ShaderSources } from './shader-library.ts';

export interface Engine {
  ctx: GpuContext;
  kernels: KernelCache;
  readback: ReadbackPool;
}

export function createEngine(ctx: GpuContext, shaders: ShaderSources): Engine {
  return { ctx, kernels: new KernelCache(ctx, shaders), readback: new ReadbackPool(ctx.device) };
}

export function destroyEngine(engine: Engine): void {
  engine.readback.destroy();
  engine.ctx.device.destroy();
}
