// The one place that turns a `GPU` object (browser navigator.gpu or Dawn in Node) into a
// ready device: it asks for every limit and optional feature the engine can use, and turns
// every way of failing into a WebGpuUnavailableError / GpuDeviceLostError / GpuRuntimeError.
import { GpuDeviceLostError, GpuRuntimeError, WebGpuUnavailableError } from './errors.ts';

/** Optional features the engine uses when present. */
const WANTED_FEATURES: GPUFeatureName[] = ['timestamp-query', 'subgroups', 'shader-f16'];

/** Limits we raise to the adapter's maximum (defaults are far too small for training). */
const WANTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxBindGroups',
] as const;

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for CPU implementations such as SwiftShader: timings say nothing about a real GPU. */
  isSoftware: boolean;
  features: string[];
  limits: Record<(typeof WANTED_LIMITS)[number], number>;
}

export interface GpuContext {
  device: GPUDevice;
  adapter: AdapterSummary;
  hasTimestamps: boolean;
  /** Rejected/resolved once when the device is lost; `lost` is set then. */
  lost: Promise<GpuDeviceLostError>;
  lostError: GpuDeviceLostError | null;
  /** Uncaptured validation/OOM errors, newest last (bounded). */
  uncapturedErrors: GpuRuntimeError[];
  /** Called for each uncaptured error (after it is recorded). */
  onError?: (error: GpuRuntimeError) => void;
}

export interface AcquireOptions {
  powerPreference?: GPUPowerPreference;
  /** Request only WebGPU's default limits (for testing limit handling). */
  defaultLimits?: boolean;
}

function environmentHint(): { secure: boolean | undefined; isBrowser: boolean } {
  const g = globalThis as { isSecureContext?: boolean; window?: unknown; WorkerGlobalScope?: unknown };
  const isBrowser = typeof g.window !== 'undefined' || typeof g.WorkerGlobalScope !== 'undefined';
  return { secure: g.isSecureContext, isBrowser };
}

/** Reasons WebGPU is missing in a browser, most specific first. */
export function diagnoseMissingWebGpu(): WebGpuUnavailableError {
  const { secure } = environmentHint();
  if (secure === false) {
    return new WebGpuUnavailableError(
      'insecure-context',
      'WebGPU is only available in a secure context, and this page is not one.',
      'Open the playground from https:// or from http://localhost / http://127.0.0.1.',
    );
  }
  return new WebGpuUnavailableError(
    'no-navigator-gpu',
    'This browser does not expose WebGPU (navigator.gpu is missing).',
    'Use a recent Chrome or Edge (113+) on desktop, or enable WebGPU in your browser ' +
      '(Firefox Nightly: dom.webgpu.enabled; Safari: Develop > Feature Flags > WebGPU).',
  );
}

export function summarizeAdapter(adapter: GPUAdapter): AdapterSummary {
  const info = adapter.info ?? ({} as GPUAdapterInfo);
  const limits = {} as AdapterSummary['limits'];
  for (const name of WANTED_LIMITS) limits[name] = adapter.limits[name] as number;
  const architecture = info.architecture ?? '';
  const description = info.description ?? '';
  const isSoftware =
    /swiftshader|llvmpipe|lavapipe|software|warp|basic render/i.test(
      `${architecture} ${description} ${info.vendor ?? ''}`,
    ) || (info as { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  return {
    vendor: info.vendor ?? '',
    architecture,
    device: info.device ?? '',
    description,
    isSoftware,
    features: [...adapter.features].sort(),
    limits,
  };
}

/** A short human name for an adapter, e.g. "google swiftshader (software)". */
export function adapterLabel(a: AdapterSummary): string {
  const parts = [a.vendor, a.architecture, a.device || a.description].filter(Boolean);
  return `${parts.join(' ') || 'unknown adapter'}${a.isSoftware ? ' (software)' : ''}`;
}

/**
 * Obtain an adapter and a device from `gpu`. In a browser pass `navigator.gpu` (possibly
 * undefined: that case becomes a specific error); in Node use `acquireNodeGpu`.
 */
export async function acquireGpu(gpu: GPU | undefined, options: AcquireOptions = {}): Promise<GpuContext> {
  if (!gpu) throw diagnoseMissingWebGpu();
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  } catch (e) {
    throw new WebGpuUnavailableError(
      'no-adapter',
      `requestAdapter() failed: ${(e as Error).message}.`,
      'Check that hardware acceleration is enabled in the browser settings and that the GPU driver is up to date.',
    );
  }
  if (!adapter) {
    throw new WebGpuUnavailableError(
      'no-adapter',
      'WebGPU is present but no GPU adapter is available (the GPU may be blocklisted or WebGPU disabled).',
      'Enable hardware acceleration, update the GPU driver, or in Chrome try chrome://flags/#enable-unsafe-webgpu; on Linux Chrome may also need --enable-features=Vulkan.',
    );
  }
  const summary = summarizeAdapter(adapter);
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter!.features.has(f));
  const requiredLimits: Record<string, number> = {};
  if (!options.defaultLimits) for (const name of WANTED_LIMITS) requiredLimits[name] = summary.limits[name];

  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures, requiredLimits, label: 'fcmae-engine' });
  } catch (e) {
    throw new WebGpuUnavailableError(
      'device-request-failed',
      `The GPU adapter refused to create a device: ${(e as Error).message}.`,
      'Close other tabs using the GPU and reload; if it persists, restart the browser.',
    );
  }

  const ctx: GpuContext = {
    device,
    adapter: summary,
    hasTimestamps: device.features.has('timestamp-query'),
    lost: Promise.resolve(null as unknown as GpuDeviceLostError),
    lostError: null,
    uncapturedErrors: [],
  };
  ctx.lost = device.lost.then((info) => {
    const err = new GpuDeviceLostError(info.reason ?? 'unknown', info.message ?? '');
    ctx.lostError = err;
    return err;
  });
  device.addEventListener('uncapturederror', (event) => {
    const e = (event as GPUUncapturedErrorEvent).error;
    const kind = e.constructor.name.includes('OutOfMemory')
      ? 'out-of-memory'
      : e.constructor.name.includes('Internal')
        ? 'internal'
        : 'validation';
    const err = new GpuRuntimeError(kind, e.message);
    ctx.uncapturedErrors.push(err);
    if (ctx.uncapturedErrors.length > 50) ctx.uncapturedErrors.shift();
    ctx.onError?.(err);
  });
  return ctx;
}

/** Throws if the device was lost or an uncaptured error happened since the last check. */
export function throwIfFailed(ctx: GpuContext, during?: string): void {
  if (ctx.lostError) throw ctx.lostError;
  const err = ctx.uncapturedErrors.shift();
  if (err) {
    ctx.uncapturedErrors.length = 0;
    throw new GpuRuntimeError(err.kind, err.detail, during);
  }
}
