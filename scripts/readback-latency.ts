// How long a loss readback waits beyond the GPU work itself, in Node through Dawn: submit a
// 4-byte copy into a staging buffer (nearly no GPU work), then await mapAsync, many times. If
// Dawn's event pump (how Node learns that the map is done) added a fixed delay per step, it
// would show here as a round trip far above the copy's cost. Usage: npx tsx scripts/readback-latency.ts [rounds]
import { acquireNodeGpu } from '../src/gpu/node-device.ts';
import { Usage } from '../src/gpu/buffers.ts';

const rounds = Number(process.argv[2] ?? 200);
const ctx = await acquireNodeGpu();
const device = ctx.device;
const src = device.createBuffer({ size: 4, usage: Usage.STORAGE | Usage.COPY_SRC | Usage.COPY_DST });
const staging = device.createBuffer({ size: 4, usage: Usage.MAP_READ | Usage.COPY_DST });
const times: number[] = [];
for (let i = 0; i < rounds; i++) {
  const t0 = performance.now();
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(src, 0, staging, 0, 4);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(0x1, 0, 4);
  staging.unmap();
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
const q = (f: number) => times[Math.min(times.length - 1, Math.floor(f * times.length))]!.toFixed(3);
console.log(`${ctx.adapter.description ?? 'adapter'}: submit + mapAsync round trip over ${rounds} rounds: median ${q(0.5)} ms, p10 ${q(0.1)} ms, p90 ${q(0.9)} ms, max ${q(0.999)} ms`);
device.destroy();
