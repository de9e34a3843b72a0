// Typed errors of the GPU layer. Each carries what went wrong and what to try, so the UI,
// the worker and the CLI can show one specific, actionable message.

/** Why WebGPU could not be used at all. */
export type WebGpuUnavailableReason =
  | 'no-navigator-gpu' // the browser (or runtime) has no WebGPU API
  | 'insecure-context' // page served over plain http from a non-local host
  | 'no-adapter' // the API exists but no adapter was returned (blocklisted GPU, disabled flag)
  | 'device-request-failed' // adapter found but requestDevice rejected
  | 'node-no-driver'; // Node: no Vulkan/Metal/D3D12 driver and no SwiftShader found

export class WebGpuUnavailableError extends Error {
  override readonly name = 'WebGpuUnavailableError';
  constructor(
    readonly reason: WebGpuUnavailableReason,
    message: string,
    /** What the user can do about it, one or two sentences. */
    readonly advice: string,
  ) {
    super(`${message} ${advice}`);
  }
}

/** The GPU device was lost (driver reset, tab backgrounded for long, explicit destroy). */
export class GpuDeviceLostError extends Error {
  override readonly name = 'GpuDeviceLostError';
  constructor(
    readonly reason: GPUDeviceLostReason | 'unknown',
    readonly detail: string,
  ) {
    super(
      `The GPU device was lost (${reason}${detail ? `: ${detail}` : ''}). ` +
        'The last weights read back are kept; re-create the device to continue.',
    );
  }
}

/** A validation or out-of-memory error reported by WebGPU while running our commands. */
export class GpuRuntimeError extends Error {
  override readonly name = 'GpuRuntimeError';
  constructor(
    readonly kind: 'validation' | 'out-of-memory' | 'internal',
    readonly detail: string,
    readonly during?: string,
  ) {
    super(
      `WebGPU ${kind} error${during ? ` during ${during}` : ''}: ${detail}` +
        (kind === 'out-of-memory' ? ' Try a smaller batch size, input size or model.' : ''),
    );
  }
}

/** A WGSL shader failed to compile or its pipeline failed to build. */
export class ShaderCompileError extends Error {
  override readonly name = 'ShaderCompileError';
  constructor(
    readonly shaderFile: string,
    readonly entryPoint: string,
    readonly messages: string[],
  ) {
    super(
      `Shader ${shaderFile} (entry point ${entryPoint}) failed to build:\n` + messages.join('\n'),
    );
  }
}
