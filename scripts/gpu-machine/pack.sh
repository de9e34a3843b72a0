#!/usr/bin/env bash
# Packs everything a bare GPU machine (x86-64 Linux with an NVIDIA driver, no Node.js, no
# registry) needs to run the benchmarks, into ONE archive under 64 MiB:
#   bin/node                       this machine's Node binary (links only libc/libstdc++)
#   app/                           the project: src/, shaders/, scripts/, package.json,
#                                  tsconfig.json, the model fixtures and tests/helpers (for
#                                  check-parity.ts and `bench --checkpoint`)
#   app/node_modules/              the runtime closure of tsx (+ esbuild's binary), webgpu
#                                  (dawn.node for linux-x64 only), sharp (the CLI imports it),
#                                  fflate, and TF.js core + WebGPU backend; maps, typings,
#                                  tests and other platforms' builds pruned
#   debs/                          Vulkan loader + libglvnd packages for machines without them
# The archive is xz-compressed (the Node binary alone is ~24 MB compressed).
# Usage: scripts/gpu-machine/pack.sh [OUT_DIR]   (default dist/gpu-machine, ignored by git)
# Then on the device machine (see /work/.library/device/README.md), carrying OUT_DIR:
#   bash scripts/gpu-machine/run.sh dist/gpu-machine/fcmae-gpu.tar.xz
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT_DIR="$(mkdir -p "${1:-$ROOT/dist/gpu-machine}" && cd "${1:-$ROOT/dist/gpu-machine}" && pwd)"
ARCHIVE="$OUT_DIR/fcmae-gpu.tar.xz"
LIMIT=$((64 * 1024 * 1024))
STAGE="$(mktemp -d /tmp/fcmae-gpu-pack.XXXXXX)"
trap 'rm -rf "$STAGE"' EXIT

[ "$(uname -m)" = x86_64 ] || { echo "pack.sh: this machine is $(uname -m); the GPU machine is x86-64 and needs x86-64 binaries" >&2; exit 1; }
NODE_BIN="$(command -v node)" || { echo "pack.sh: node not found" >&2; exit 1; }
[ -d "$ROOT/node_modules/tsx" ] || { echo "pack.sh: node_modules is missing: run npm install first" >&2; exit 1; }

echo "staging in $STAGE"
mkdir -p "$STAGE/bin" "$STAGE/app" "$STAGE/debs"
cp "$NODE_BIN" "$STAGE/bin/node"

# ---- the project (what `fcmae bench` and bench:kernels load at run time)
( cd "$ROOT" && cp -r src shaders scripts package.json tsconfig.json "$STAGE/app/" )
mkdir -p "$STAGE/app/tests/fixtures"
cp -r "$ROOT/tests/fixtures/model" "$STAGE/app/tests/fixtures/"
cp -r "$ROOT/tests/helpers" "$STAGE/app/tests/"
rm -rf "$STAGE/app/scripts/gpu-machine/__pycache__"

# ---- node_modules: the dependency closure of the runtime entry packages
ENTRY_PACKAGES="tsx webgpu sharp fflate @tensorflow/tfjs-core @tensorflow/tfjs-backend-webgpu"
( cd "$ROOT" && node --input-type=module - $ENTRY_PACKAGES ) > "$STAGE/packages.txt" <<'EOF'
// Prints the node_modules-relative directory of every package the entries need (dependencies
// and installed optional dependencies, resolved the way Node resolves them: nearest
// node_modules first).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
const root = process.cwd();
const seen = new Set();
function resolveFrom(dir, name) {
  for (let d = dir; ; d = dirname(d)) {
    const candidate = join(d, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (d === root || d === dirname(d)) return null;
  }
}
function visit(dir) {
  if (seen.has(dir)) return;
  seen.add(dir);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const deps = { ...(pkg.dependencies ?? {}), ...(pkg.optionalDependencies ?? {}) };
  for (const name of Object.keys(deps)) {
    if (name.startsWith('@types/') || name === '@webgpu/types') continue; // typings only
    const found = resolveFrom(dir, name);
    if (found) visit(found);
    else if (!(pkg.optionalDependencies ?? {})[name]) throw new Error(`${pkg.name} needs ${name}, which is not installed`);
  }
}
for (const name of process.argv.slice(2)) {
  const found = resolveFrom(root, name);
  if (!found) throw new Error(`entry package ${name} is not installed`);
  visit(found);
}
for (const d of [...seen].sort()) console.log(relative(root, d));
EOF
while read -r dir; do
  mkdir -p "$STAGE/app/$(dirname "$dir")"
  cp -r "$ROOT/$dir" "$STAGE/app/$dir"
done < "$STAGE/packages.txt"
echo "$(wc -l < "$STAGE/packages.txt") packages"

NM="$STAGE/app/node_modules"
# nested node_modules came along with their parents: drop typings-only ones
rm -rf "$NM/@tensorflow/tfjs-core/node_modules/@webgpu" "$NM/@tensorflow/tfjs-core/node_modules/@types"
# maps, typings, docs and tests are not needed to run
find "$NM" \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.md' -o -name '*_test.js' \) -type f -delete
find "$NM" -type d \( -name test -o -name tests -o -name __tests__ \) -prune -exec rm -rf {} +
# webgpu: only the linux-x64 dawn.node (the other platforms' builds are ~60 MB)
find "$NM/webgpu/dist" -mindepth 1 -maxdepth 1 -type d ! -name linux-x64 -exec rm -rf {} +
rm -rf "$NM/webgpu/build"
# TF.js: the CommonJS bundle Node loads (main) plus tfjs-core's ESM module tree, which
# register_all_gradients.js needs; the browser bundles and TypeScript sources go
for pkg in tfjs-core tfjs-backend-webgpu tfjs-backend-cpu; do
  d="$NM/@tensorflow/$pkg"
  [ -d "$d" ] || continue
  find "$d/dist" -maxdepth 1 -type f -name 'tf-*.js' ! -name 'tf-*.node.js' -delete
  rm -rf "$d/src" "$d/scripts"
done
# TF.js backends other than core keep only their Node bundle (their ESM trees are unused)
for pkg in tfjs-backend-webgpu tfjs-backend-cpu; do
  d="$NM/@tensorflow/$pkg/dist"
  [ -d "$d" ] && find "$d" -mindepth 1 \( -type d -prune -o -type f ! -name 'tf-*.node.js' \) -exec rm -rf {} +
done

# ---- Vulkan loader packages (Debian's; they unpack anywhere with dpkg -x). The NVIDIA Vulkan
# driver (libGLX_nvidia.so.0) also needs libglvnd's dispatch libraries: without them the loader
# says "Could not get 'vkCreateInstance' ... Found no drivers" (seen on the H100 machine).
LOADER_PACKAGES="libvulkan1 libglvnd0 libgl1 libglx0 libegl1 libgles2 libopengl0"
if command -v apt-get >/dev/null; then
  APT_STATE="$(mktemp -d /tmp/fcmae-apt.XXXXXX)"
  mkdir -p "$APT_STATE/partial"
  apt_opts=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists="$APT_STATE")
  if apt-get "${apt_opts[@]}" update >/dev/null 2>&1 && (cd "$STAGE/debs" && apt-get "${apt_opts[@]}" download $LOADER_PACKAGES >/dev/null 2>&1); then
    echo "Vulkan loader: $(ls "$STAGE/debs")"
  else
    echo "pack.sh: could not download $LOADER_PACKAGES (no registry?); run.sh will rely on the machine's own loader" >&2
  fi
  rm -rf "$APT_STATE"
fi

# ---- one archive
cat > "$STAGE/PACK-INFO.txt" <<EOF
packed $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -srm)
node $("$NODE_BIN" --version)
project commit $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown) (working tree as it was, uncommitted changes included)
EOF
du -sh "$STAGE/bin" "$STAGE/app/node_modules" "$STAGE/app" "$STAGE/debs" | sed 's/^/  /'
rm -f "$STAGE/packages.txt"
tar -C "$STAGE" -cf - . | xz -T0 -6 > "$ARCHIVE.tmp"
mv "$ARCHIVE.tmp" "$ARCHIVE"
size=$(stat -c %s "$ARCHIVE")
echo "wrote $ARCHIVE: $((size / 1024 / 1024)) MiB ($size bytes)"
if [ "$size" -ge "$LIMIT" ]; then
  echo "pack.sh: the archive is over the 64 MiB the device machine accepts (with the working tree)" >&2
  exit 1
fi
