// Node only: find a WebGPU implementation through Dawn (`webgpu` npm package). Order: the
// system's Vulkan/Metal/D3D12 driver, then Chromium's SwiftShader (a CPU Vulkan) when
// installed, else a message saying what to install. Imported by the CLI and tests, never by
// the browser bundle.
import { existsSync } from 'node:fs';
import { acquireGpu, type AcquireOptions, type GpuContext } from './device.ts';
import { WebGpuUnavailableError } from './errors.ts';

const SWIFTSHADER_ICDS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
  '/opt/google/chrome/vk_swiftshader_icd.json',
];

export interface NodeGpuOptions extends AcquireOptions {
  /** 'auto' (default): system driver, then SwiftShader; or force one. Env FCMAE_GPU overrides. */
  backend?: 'auto' | 'system' | 'swiftshader';
}

let dawn: typeof import('webgpu') | null = null;
/**
 * Every Dawn instance we hand out, kept reachable for the life of the process: the device
 * does not keep its instance alive, and when the GC collects the `GPU` object Dawn's event
 * pump locks a freed mutex (seen as random "futex facility returned an unexpected error"
 * aborts and segfaults).
 */
const liveInstances: GPU[] = [];

async function loadDawn(): Promise<typeof import('webgpu')> {
  if (dawn) return dawn;
  try {
    dawn = await import('webgpu');
  } catch (e) {
    throw new WebGpuUnavailableError(
      'node-no-driver',
      `Could not load Dawn (the 'webgpu' npm package): ${(e as Error).message}.`,
      'Run `npm install` in the project folder.',
    );
  }
  Object.assign(globalThis, dawn.globals);
  return dawn;
}

function swiftShaderIcd(): string | undefined {
  return SWIFTSHADER_ICDS.find((p) => existsSync(p));
}

/**
 * Dawn rounds GPU timestamps to 2^16 ns (65.5 µs) by default, a browser's defence against
 * timing attacks; on a real GPU most kernels then time as 0 (seen on an H100). A Node process
 * is not a web page: ask for full resolution.
 */
const DAWN_FLAGS = ['disable-dawn-features=timestamp_quantization'];

async function tryAdapter(d: typeof import('webgpu')): Promise<GPU | null> {
  const gpu = d.create(DAWN_FLAGS);
  liveInstances.push(gpu);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
  return adapter ? gpu : null;
}

/** Acquire a device in Node, choosing the backend as described above. */
export async function acquireNodeGpu(options: NodeGpuOptions = {}): Promise<GpuContext> {
  return acquireGpu(await nodeGpu(options), options);
}

/** Dawn's `GPU` object (what navigator.gpu is in a browser), the backend chosen as described above. */
export async function nodeGpu(options: Pick<NodeGpuOptions, 'backend'> = {}): Promise<GPU> {
  const d = await loadDawn();
  const backend = (process.env.FCMAE_GPU as NodeGpuOptions['backend']) ?? options.backend ?? 'auto';
  let gpu: GPU | null = null;
  if (backend !== 'swiftshader' && !process.env.VK_ICD_FILENAMES?.includes('swiftshader')) {
    gpu = await tryAdapter(d);
  }
  if (!gpu && backend !== 'system') {
    const icd = process.env.VK_ICD_FILENAMES?.includes('swiftshader') ? process.env.VK_ICD_FILENAMES : swiftShaderIcd();
    if (icd) {
      // The Vulkan loader reads this when Dawn creates its next instance.
      process.env.VK_ICD_FILENAMES = icd;
      gpu = await tryAdapter(d);
    }
  }
  if (!gpu) {
    throw new WebGpuUnavailableError(
      'node-no-driver',
      'No WebGPU adapter found in Node: no usable GPU driver, and Chromium\'s SwiftShader is not installed.',
      'Install a Vulkan driver for your GPU, or on Debian/Ubuntu run `apt-get install -y chromium libvulkan1` ' +
        '(SwiftShader, a CPU fallback: slow but correct).',
    );
  }
  return gpu;
}
