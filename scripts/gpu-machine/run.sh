#!/usr/bin/env bash
# Unpacks the archive made by pack.sh and runs the benchmarks from the unpacked copy, writing
# results to $OUT (the device tool brings back what is there: at most 8 files).
#   bash scripts/gpu-machine/run.sh [ARCHIVE]      (default dist/gpu-machine/fcmae-gpu.tar.xz)
# Environment:
#   OUT            where results go (default ./gpu-results)
#   FCMAE_QUICK=1  small settings, for a check against SwiftShader on a CPU-only machine
#   UNPACK_DIR     where to unpack (default /tmp/fcmae-gpu)
#   SWEEP_BATCH    batch size of the mask-ratio sweep (default 32: issue 18's real-GPU figures are
#                  at atto 224 px batch 32)
#   BENCH_TIMEOUT  seconds allowed per benchmark command (default 130: the four fit the device
#                  tool's 10-minute limit per command)
# Files written: environment.txt, parity.txt (the model's loss and gradients against the
# PyTorch fixtures on this adapter), step-sweep.json, peer.json, grads-step.json, kernels.json,
# log.txt (every command's stderr), summary.txt (the readable tables, and first the fixed-cost
# figures of issue 18: wall vs GPU time per step at atto 224 px batch 32, the wall-time ratio of
# mask ratio 0.6 to 0, images/s, dispatches per step, host time, and the pipelined throughput
# with 2 and 3 steps in flight beside depth 1).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ARCHIVE="${1:-$ROOT/dist/gpu-machine/fcmae-gpu.tar.xz}"
OUT="${OUT:-$PWD/gpu-results}"
DEST="${UNPACK_DIR:-/tmp/fcmae-gpu}"
TIMEOUT="${BENCH_TIMEOUT:-130}"
mkdir -p "$OUT"
LOG="$OUT/log.txt"
SUMMARY="$OUT/summary.txt"
: > "$LOG"
: > "$SUMMARY"

[ -f "$ARCHIVE" ] || { echo "run.sh: no archive at $ARCHIVE (run scripts/gpu-machine/pack.sh, and carry its folder)" >&2; exit 1; }
rm -rf "$DEST" && mkdir -p "$DEST"
tar -xJf "$ARCHIVE" -C "$DEST" || { echo "run.sh: could not unpack $ARCHIVE" >&2; exit 1; }

# Vulkan loader: Dawn dlopens libvulkan.so.1, and NVIDIA's Vulkan driver needs libglvnd's
# libGLdispatch. Install the carried Debian packages only where the machine lacks one of them
# (unpacking over a working system can break it).
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1' || ! ldconfig -p 2>/dev/null | grep -q 'libGLdispatch.so.0'; then
  for f in "$DEST"/debs/*.deb; do [ -f "$f" ] && dpkg -x "$f" / ; done
  ldconfig 2>/dev/null || true
fi
# The NVIDIA Vulkan driver's manifest on the device machines (see the device README).
NVIDIA_ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_ICD_FILENAMES:-}" ] && [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$NVIDIA_ICD" ]; then
  export VK_DRIVER_FILES="$NVIDIA_ICD"
fi

export PATH="$DEST/bin:$PATH"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
cd "$DEST/app"
TSX=(node node_modules/tsx/dist/cli.mjs)

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  cat "$DEST/PACK-INFO.txt"
  echo "node: $(node --version)"
  echo "kernel: $(uname -srm)"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1
  echo "libvulkan: $(ldconfig -p 2>/dev/null | grep -m1 'libvulkan.so.1' || echo none)"
  echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-} VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-}"
  echo "QUICK=${FCMAE_QUICK:-0}"
} > "$OUT/environment.txt" 2>&1
cat "$OUT/environment.txt"

failures=0
# run NAME OUTFILE CMD...: stdout → OUTFILE, stderr → log; a failure is noted and the next runs
run() {
  local name="$1" out="$2"
  shift 2
  echo "== $name: $*" | tee -a "$LOG"
  local start=$SECONDS
  if timeout "$TIMEOUT" "$@" > "$out" 2>> "$LOG"; then
    echo "   done in $((SECONDS - start)) s" | tee -a "$LOG"
  else
    echo "   FAILED (exit $?) after $((SECONDS - start)) s: see log.txt" | tee -a "$LOG"
    failures=$((failures + 1))
  fi
}

if [ "${FCMAE_QUICK:-0}" = 1 ]; then
  SWEEP=(--depths 1,1,1,1 --dims 8,16,24,32 --decoder-dim 16 --input-size 64 --batch-size 2 --sweep 0,0.5 --steps 2)
  PEER=(--depths 1,1,1,1 --dims 8,16,24,32 --decoder-dim 16 --input-size 64 --batch-size 2 --mask-ratio 0.5 --steps 2 --in-flight off --peer tfjs)
  KERNELS=(--quick --filter 's3')
  STEPS=2
else
  # the sweep also measures the pipelined throughput (bench's default --in-flight 2,3)
  SWEEP=(--model atto --input-size 224 --batch-size "${SWEEP_BATCH:-32}" --sweep 0,0.6,0.75 --steps 20)
  PEER=(--model atto --input-size 96 --batch-size 2 --mask-ratio 0.6 --steps 20 --in-flight off --peer tfjs)
  KERNELS=()
  STEPS=20
fi
FIXTURE=tests/fixtures/model/base

# correctness first: the GPU-only kernel paths against PyTorch, through the whole model
run "parity" "$OUT/parity.txt" "${TSX[@]}" scripts/gpu-machine/check-parity.ts

run "step sweep" "$OUT/step-sweep.json" "${TSX[@]}" src/cli/main.ts bench "${SWEEP[@]}" --json
run "TF.js peer" "$OUT/peer.json" "${TSX[@]}" src/cli/main.ts bench "${PEER[@]}" --json
run "grads step" "$OUT/grads-step.json" "${TSX[@]}" src/cli/main.ts bench --checkpoint "$FIXTURE/weights.safetensors" --batch "$FIXTURE/batch.safetensors" --steps "$STEPS" --in-flight off --json
run "kernels" "$OUT/kernels.json" "${TSX[@]}" scripts/bench-kernels.ts --json "${KERNELS[@]}"

# the readable tables, from the JSON documents (no second run)
node --input-type=module - "$OUT" >> "$SUMMARY" 2>> "$LOG" <<'EOF'
import { readFileSync, existsSync } from 'node:fs';
const out = process.argv[2];
const read = (f) => (existsSync(`${out}/${f}`) ? (() => { try { return JSON.parse(readFileSync(`${out}/${f}`, 'utf8')); } catch { return null; } })() : null);
const f = (v, d = 3) => (v == null ? 'n/a' : typeof v === 'number' ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(d)) : String(v));
// issue 18 (fixed cost of a step): targets wall ≤ 1.2 × GPU time at atto 224 px batch 32, and the
// wall-time ratio of mask ratio 0.6 to 0 ≤ 0.6
const sweep = read('step-sweep.json');
if (sweep) {
  console.log(`fixed cost of a step (issue 18) on ${sweep.adapter}:`);
  for (const r of sweep.results) {
    const gpu = r.gpu_step_ms_median;
    const pipe = r.pipelined_step_ms ?? {};
    const best = Math.min(...Object.values(pipe));
    console.log(`  ${r.model} ${r.input_size.join('×')} batch ${r.batch_size} ratio ${r.mask_ratio}: wall ${f(r.step_ms_median)} ms, GPU ${f(gpu)} ms, wall/GPU ${typeof gpu === 'number' ? f(r.step_ms_median / gpu) : 'n/a'} (target ≤ 1.2), ${f(r.images_per_second)} img/s; ${r.dispatches_per_step} dispatches in ${r.passes_per_step} passes; host: upload ${f(r.upload_ms)} ms, encode + submit ${f(r.host_encode_ms)} ms, wait for the loss ${f(r.readback_wait_ms)} ms`);
    if (Object.keys(pipe).length) {
      const parts = Object.entries(pipe).map(([d, ms]) => `${d} in flight ${f(ms)} ms/step (${f(r.pipelined_images_per_second[d])} img/s)`);
      console.log(`    pipelined (steady state): ${parts.join('; ')}; best/GPU ${typeof gpu === 'number' ? f(best / gpu) : 'n/a'}`);
    }
  }
  // the plan's ratio is 1 − V/L for a whole visible count V (0.6 of 49 patches → 0.592): the nearest
  const at = (ratio) => sweep.results.filter((r) => Math.abs(r.mask_ratio - ratio) < 0.05).sort((a, b) => Math.abs(a.mask_ratio - ratio) - Math.abs(b.mask_ratio - ratio))[0];
  const r0 = at(0), r6 = at(0.6);
  if (r0 && r6) {
    const gpuRatio = r0.gpu_step_ms_median && r6.gpu_step_ms_median ? f(r6.gpu_step_ms_median / r0.gpu_step_ms_median) : 'n/a';
    const pipeRatio = (d) => (r0.pipelined_step_ms?.[d] && r6.pipelined_step_ms?.[d] ? f(r6.pipelined_step_ms[d] / r0.pipelined_step_ms[d]) : 'n/a');
    console.log(`  ratio ${f(r6.mask_ratio)} vs 0: wall ${f(r6.step_ms_median / r0.step_ms_median)} (target ≤ 0.6), GPU ${gpuRatio}, pipelined wall ${['2', '3'].map((d) => `${d} in flight ${pipeRatio(d)}`).join(', ')}`);
  }
  console.log('');
}
for (const [file, title] of [['step-sweep.json', 'step sweep'], ['grads-step.json', 'grads step (checkpoint + batch)']]) {
  const j = read(file);
  if (!j) { console.log(`${title}: no result`); continue; }
  console.log(`${title} on ${j.adapter}`);
  for (const r of j.results) console.log(`  ${r.model} ${r.input_size.join('×')} batch ${r.batch_size} ratio ${r.mask_ratio}: step ${f(r.step_ms_median)} ms (p10 ${f(r.step_ms_p10)}, p90 ${f(r.step_ms_p90)}), GPU ${f(r.gpu_step_ms_median)} ms, ${f(r.images_per_second)} img/s, ${f(r.gflops_achieved)} GFLOP/s, peak ${f(r.gpu_bytes_peak / 2 ** 20)} MiB`);
  for (const s of j.sweep ?? []) console.log(`  ratio ${s.mask_ratio}: step time ×${f(s.step_time_vs_ratio0)} of ratio 0 (FLOPs ×${f(s.gflop_vs_ratio0)})`);
}
const p = read('peer.json');
if (p?.peer) for (const r of p.peer) console.log(`TF.js peer ${r.model} ${r.height} px batch ${r.batchSize} ratio ${r.maskRatio}: ours ${f(r.ours_step_ms_median)} ms, TF.js ${f(r.tfjs_step_ms_median)} ms → ${f(r.speedup_vs_tfjs)}× (loss rel diff ${f(r.loss_rel_diff)})`);
else console.log('TF.js peer: no result');
const k = read('kernels.json');
if (k) {
  for (const m of k.matmul_vs_tfjs ?? []) console.log(`matmul ${m.n}³: ours ${f(m.ours_wall_ms_median)} ms (${f(m.ours_gflops)} GFLOP/s), TF.js ${f(m.tfjs_ms_median)} ms (${f(m.tfjs_gflops)} GFLOP/s) → ${f(m.speedup_vs_tfjs)}×`);
  console.log(`kernels (${k.kernels.length}), ms per call (${k.kernels[0]?.timing_method}):`);
  for (const r of k.kernels) console.log(`  ${r.family.padEnd(10)} ${r.kernel.padEnd(16)} ratio ${String(r.mask_ratio ?? '-').padEnd(4)} ${r.shape.padEnd(22)} ${f(r.ms_median).padStart(8)} ms  ${f(r.throughput).padStart(8)} ${r.throughput_unit}`);
} else console.log('kernels: no result');
EOF
cat "$OUT/parity.txt" "$SUMMARY"
echo "results in $OUT: $(ls "$OUT" | tr '\n' ' ')"
[ "$failures" -eq 0 ] || { echo "run.sh: $failures benchmark command(s) failed" >&2; exit 1; }
