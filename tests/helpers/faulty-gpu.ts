// A real Dawn GPU with two faults a test can switch on, for the fault paths of the worker
// modules in Node:
// - a memory budget: once the buffers created on a device add up past `budgetBytes`, a
//   createBuffer behaves as an allocation failure does in WebGPU (the buffer is invalid: a tiny
//   stand-in here, and a GPUOutOfMemoryError goes to the innermost 'out-of-memory' error scope,
//   or to 'uncapturederror' when there is none);
// - a crash: `crash()` destroys the current device and its `lost` promise reports reason
//   'unknown', as a GPU process crash or driver reset does in a browser (the adapter is gone too:
//   a later requestDevice on it fails, a new requestAdapter works).
// Everything else is the real device: kernels run, losses are real.

class OutOfMemoryError extends Error {
  override readonly name = 'GPUOutOfMemoryError';
}

export interface FaultyGpu {
  gpu: GPU;
  /** Bytes of the buffers created on the current device (destroyed ones included). */
  readonly allocatedBytes: number;
  /** Buffers larger in total than this fail; Infinity (the default) never. */
  budgetBytes: number;
  /** Allocation failures reported so far. */
  readonly failures: number;
  /** requestAdapter calls answered. */
  readonly adapters: number;
  /** Destroys the current device; its loss reads as reason 'unknown'. */
  crash(): Promise<void>;
}

type Scope = { filter: GPUErrorFilter; error: Error | null };

export function faultyGpu(real: GPU): FaultyGpu {
  let allocated = 0;
  let failures = 0;
  let adapters = 0;
  let current: { device: GPUDevice; crashed: boolean } | null = null;
  const state: FaultyGpu = {
    gpu: null as unknown as GPU,
    get allocatedBytes() {
      return allocated;
    },
    budgetBytes: Infinity,
    get failures() {
      return failures;
    },
    get adapters() {
      return adapters;
    },
    async crash() {
      if (!current) throw new Error('faultyGpu: no device to crash');
      current.crashed = true;
      current.device.destroy();
      await current.device.lost;
    },
  };

  function wrapDevice(device: GPUDevice): GPUDevice {
    const scopes: Scope[] = [];
    const entry = { device, crashed: false };
    current = entry;
    allocated = 0;
    const uncaptured: ((e: Event) => void)[] = [];
    const lost = device.lost.then((info) => (entry.crashed ? ({ reason: 'unknown', message: 'the GPU process crashed (test)' } as unknown as GPUDeviceLostInfo) : info));
    const overrides: Partial<Record<keyof GPUDevice | string, unknown>> = {
      lost,
      createBuffer(descriptor: GPUBufferDescriptor): GPUBuffer {
        if (allocated + descriptor.size > state.budgetBytes) {
          failures++;
          const error = new OutOfMemoryError(`Out of memory: a buffer of ${descriptor.size} bytes (${descriptor.label ?? 'unlabelled'}) exceeds the test budget of ${state.budgetBytes} bytes.`);
          const scope = scopes.findLast((s) => s.filter === 'out-of-memory');
          if (scope) scope.error ??= error;
          else for (const l of uncaptured) l(Object.assign(new Event('uncapturederror'), { error }));
          // an invalid buffer stands in: small, same usage, never the requested size
          return device.createBuffer({ ...descriptor, size: 16, mappedAtCreation: false });
        }
        allocated += descriptor.size;
        return device.createBuffer(descriptor);
      },
      pushErrorScope(filter: GPUErrorFilter): void {
        scopes.push({ filter, error: null });
        device.pushErrorScope(filter);
      },
      async popErrorScope(): Promise<GPUError | null> {
        const scope = scopes.pop();
        const real = await device.popErrorScope();
        return (scope?.error as unknown as GPUError | null) ?? real;
      },
      addEventListener(type: string, listener: (e: Event) => void, options?: unknown): void {
        if (type === 'uncapturederror') uncaptured.push(listener);
        device.addEventListener(type, listener as EventListener, options as AddEventListenerOptions);
      },
    };
    return new Proxy(device, {
      get(target, prop) {
        if (typeof prop === 'string' && prop in overrides) return overrides[prop];
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  function wrapAdapter(adapter: GPUAdapter): GPUAdapter {
    let crashedDevice: { crashed: boolean } | null = null;
    return new Proxy(adapter, {
      get(target, prop) {
        if (prop === 'requestDevice') {
          return async (descriptor?: GPUDeviceDescriptor) => {
            if (crashedDevice?.crashed) throw new Error('requestDevice: this adapter is gone (its GPU process crashed)');
            const device = wrapDevice(await target.requestDevice(descriptor));
            crashedDevice = current;
            return device;
          };
        }
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  state.gpu = new Proxy(real, {
    get(target, prop) {
      if (prop === 'requestAdapter') {
        return async (options?: GPURequestAdapterOptions) => {
          const adapter = await target.requestAdapter(options);
          adapters++;
          return adapter ? wrapAdapter(adapter) : null;
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return state;
}
