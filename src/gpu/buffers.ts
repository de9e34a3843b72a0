// Buffer ownership: an arena that creates every buffer of a plan once and frees them together,
// counting bytes (so memory figures are measured, not guessed), plus a pool of staging
// buffers for asynchronous readback that never stalls the queue.

// WebGPU's flag values, spelled out: the GPUBufferUsage global does not exist in Node until
// Dawn is loaded, and this module must be importable before that.
export const Usage = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80 } as const;
const MAP_MODE_READ = 0x1;

export const STORAGE_USAGE = Usage.STORAGE | Usage.COPY_SRC | Usage.COPY_DST;

/** Typed arrays we upload. */
export type HostArray = Float32Array | Uint32Array | Int32Array;

/** One buffer an arena created: its label without the arena's prefix, and the bytes allocated. */
export interface ArenaEntry {
  label: string;
  bytes: number;
}

export class BufferArena {
  private buffers: GPUBuffer[] = [];
  private records: ArenaEntry[] = [];
  private bytes = 0;
  private peak = 0;
  private sharedByLabel = new Map<string, GPUBuffer>();

  constructor(
    readonly device: GPUDevice,
    readonly label: string,
  ) {}

  /** A storage buffer of at least `byteSize` bytes (rounded up to 4, never 0). */
  create(label: string, byteSize: number, usage: GPUBufferUsageFlags = STORAGE_USAGE): GPUBuffer {
    const size = Math.max(4, Math.ceil(byteSize / 4) * 4);
    const buffer = this.device.createBuffer({ label: `${this.label}/${label}`, size, usage });
    this.buffers.push(buffer);
    this.records.push({ label, bytes: size });
    this.bytes += size;
    this.peak = Math.max(this.peak, this.bytes);
    return buffer;
  }

  /** A float32 storage buffer of `count` elements. */
  f32(label: string, count: number): GPUBuffer {
    return this.create(label, count * 4);
  }

  /** A storage buffer initialised with `data`. */
  fromData(label: string, data: HostArray, usage: GPUBufferUsageFlags = STORAGE_USAGE): GPUBuffer {
    const buffer = this.create(label, data.byteLength, usage);
    this.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return buffer;
  }

  /** A uniform buffer initialised with `data` (padded to 16 bytes). */
  uniform(label: string, data: ArrayBuffer | HostArray): GPUBuffer {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const size = Math.max(16, Math.ceil(bytes.byteLength / 16) * 16);
    const buffer = this.create(label, size, Usage.UNIFORM | Usage.COPY_DST);
    const padded = new Uint8Array(size);
    padded.set(bytes);
    this.device.queue.writeBuffer(buffer, 0, padded);
    return buffer;
  }

  get bytesAllocated(): number {
    return this.bytes;
  }
  get peakBytes(): number {
    return this.peak;
  }
  get count(): number {
    return this.buffers.length;
  }

  /** Every live buffer this arena created, in creation order (sizes as allocated: rounded up). */
  entries(): readonly ArenaEntry[] {
    return this.records.slice();
  }

  /**
   * One storage buffer per arena under `label`, created on first use: stand-ins that kernels
   * bind where an optional binding is unused (never written to in earnest).
   */
  shared(label: string, byteSize: number): GPUBuffer {
    let b = this.sharedByLabel.get(label);
    if (!b) {
      b = this.create(label, byteSize);
      this.sharedByLabel.set(label, b);
    }
    return b;
  }

  destroy(): void {
    this.sharedByLabel.clear();
    for (const b of this.buffers) b.destroy();
    this.buffers = [];
    this.records = [];
    this.bytes = 0;
  }
}

/** Upload `data` into `buffer` at `byteOffset`. */
export function upload(device: GPUDevice, buffer: GPUBuffer, data: HostArray, byteOffset = 0): void {
  device.queue.writeBuffer(buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
}

/** A copy encoded into a command buffer; `read()` after that command buffer is submitted. */
export interface PendingRead {
  read(): Promise<ArrayBuffer>;
}

/**
 * Pool of MAP_READ staging buffers. `copy` records a copy into the caller's encoder, so a
 * training step reads its loss without a separate submission and without waiting.
 */
export class ReadbackPool {
  private free: GPUBuffer[] = [];
  private all: GPUBuffer[] = [];

  constructor(readonly device: GPUDevice) {}

  private acquire(size: number): GPUBuffer {
    const i = this.free.findIndex((b) => b.size >= size);
    if (i >= 0) return this.free.splice(i, 1)[0]!;
    const capacity = Math.max(256, 2 ** Math.ceil(Math.log2(size)));
    const buffer = this.device.createBuffer({
      label: 'readback-staging',
      size: capacity,
      usage: Usage.MAP_READ | Usage.COPY_DST,
    });
    this.all.push(buffer);
    return buffer;
  }

  copy(encoder: GPUCommandEncoder, src: GPUBuffer, srcByteOffset: number, byteSize: number): PendingRead {
    const size = Math.ceil(byteSize / 4) * 4;
    const staging = this.acquire(size);
    encoder.copyBufferToBuffer(src, srcByteOffset, staging, 0, size);
    return {
      read: async () => {
        try {
          await staging.mapAsync(MAP_MODE_READ, 0, size);
          const out = staging.getMappedRange(0, size).slice(0, byteSize);
          staging.unmap();
          return out;
        } finally {
          this.free.push(staging);
        }
      },
    };
  }

  /** Copy and read in one go (its own submission). */
  async read(src: GPUBuffer, srcByteOffset = 0, byteSize = src.size - srcByteOffset): Promise<ArrayBuffer> {
    const encoder = this.device.createCommandEncoder({ label: 'readback' });
    const pending = this.copy(encoder, src, srcByteOffset, byteSize);
    this.device.queue.submit([encoder.finish()]);
    return pending.read();
  }

  async readF32(src: GPUBuffer, count?: number, elementOffset = 0): Promise<Float32Array> {
    const n = count ?? src.size / 4 - elementOffset;
    return new Float32Array(await this.read(src, elementOffset * 4, n * 4));
  }

  destroy(): void {
    for (const b of this.all) b.destroy();
    this.all = [];
    this.free = [];
  }
}
