// Pipeline cache: one compute pipeline per (shader file, entry point, override constants),
// compiled asynchronously inside a validation error scope. Failures become
// ShaderCompileError naming the file and carrying the compiler's messages.
import type { GpuContext } from './device.ts';
import { ShaderCompileError } from './errors.ts';
import { resolveIncludes, type ShaderSources } from './shader-library.ts';

export interface KernelSpec {
  /** File name in shaders/, e.g. "matmul.wgsl". */
  shader: string;
  entryPoint: string;
  /** WGSL `override` constants (workgroup sizes, tile sizes, flags). */
  constants?: Record<string, number>;
}

export class KernelCache {
  private modules = new Map<string, GPUShaderModule>();
  private pipelines = new Map<string, Promise<GPUComputePipeline>>();

  constructor(
    readonly ctx: GpuContext,
    readonly sources: ShaderSources,
  ) {}

  private module(shader: string): GPUShaderModule {
    let m = this.modules.get(shader);
    if (!m) {
      m = this.ctx.device.createShaderModule({ label: shader, code: resolveIncludes(shader, this.sources) });
      this.modules.set(shader, m);
    }
    return m;
  }

  pipeline(spec: KernelSpec): Promise<GPUComputePipeline> {
    const key = `${spec.shader}|${spec.entryPoint}|${JSON.stringify(spec.constants ?? {})}`;
    let p = this.pipelines.get(key);
    if (!p) {
      p = this.build(spec);
      this.pipelines.set(key, p);
      p.catch(() => this.pipelines.delete(key));
    }
    return p;
  }

  get size(): number {
    return this.pipelines.size;
  }

  private async build(spec: KernelSpec): Promise<GPUComputePipeline> {
    const { device } = this.ctx;
    const module = this.module(spec.shader);
    device.pushErrorScope('validation');
    let pipeline: GPUComputePipeline | null = null;
    let failure: string | null = null;
    try {
      const descriptor: GPUComputePipelineDescriptor = {
        label: `${spec.shader}:${spec.entryPoint}`,
        layout: 'auto',
        compute: { module, entryPoint: spec.entryPoint, constants: spec.constants },
      };
      pipeline = await device.createComputePipelineAsync(descriptor);
    } catch (e) {
      failure = (e as Error).message;
    }
    const scoped = await device.popErrorScope();
    if (scoped) failure = failure ?? scoped.message;
    if (failure !== null || !pipeline) {
      const info = await module.getCompilationInfo();
      const messages = info.messages
        .filter((m) => m.type === 'error' || m.type === 'warning')
        .map((m) => `${spec.shader}:${m.lineNum}:${m.linePos} ${m.type}: ${m.message}`);
      if (failure) messages.push(failure);
      throw new ShaderCompileError(spec.shader, spec.entryPoint, messages);
    }
    return pipeline;
  }
}
