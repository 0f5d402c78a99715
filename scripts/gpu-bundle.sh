#!/usr/bin/env bash
# Builds the self-contained bundle scripts/gpu-check.sh runs on a GPU machine with no Node.js, no npm and no network:
#   node/bin/node       this machine's Node (>= 20.19; Debian bookworm's nodejs .deb is 18.x, too old), stripped
#   app/                peftlab's dist/ + package.json + pruned runtime node_modules (tfjs's CommonJS builds only,
#                       tfjs-backend-webgpu, `webgpu` with only linux-x64's dawn.node, sharp's linux-x64 build)
#   shared/             the fixtures the check reads (reference + pretrained manifests, ViT-Ti weights, torch bench)
#   debs/               Debian's Vulkan loader packages (libvulkan1, libegl1, libglvnd0), unpacked there with dpkg -x
# Output: gpu-bundle/peftlab-gpu-bundle.tar.xz (about 55 MiB; a run carries at most 64 MiB).
# Usage: scripts/gpu-bundle.sh [--out DIR] [--skip-build]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUTDIR="$ROOT/gpu-bundle"
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUTDIR="$2"; shift 2 ;;
    --skip-build) BUILD=0; shift ;;
    *) echo "gpu-bundle: unknown option $1 (expected --out DIR, --skip-build)" >&2; exit 2 ;;
  esac
done
SHARED="${PEFTLAB_SHARED:-$ROOT/../shared}"
for f in fixtures/reference/manifest.json fixtures/pretrained/manifest.json weights/vit_tiny_patch16_224/model.safetensors bench/torch_vit_lora.py; do
  [ -f "$SHARED/$f" ] || { echo "gpu-bundle: $SHARED/$f is missing (set PEFTLAB_SHARED)" >&2; exit 1; }
done
NODE_BIN="$(command -v node)"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<19)) process.exit(1)' ||
  { echo "gpu-bundle: Node >= 20.19 needed, this one is $(node --version)" >&2; exit 1; }
[ "$(uname -m)" = x86_64 ] || { echo "gpu-bundle: the bundle targets linux x86-64" >&2; exit 1; }

cd "$ROOT"
[ "$BUILD" = 1 ] && npm run build --silent
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
B="$STAGE/peftlab-gpu"
mkdir -p "$B/node/bin" "$B/app" "$B/shared" "$B/debs"

# 1. Node: this machine's binary without its debug sections.
cp "$NODE_BIN" "$B/node/bin/node"
strip "$B/node/bin/node" 2>/dev/null || true

# 2. peftlab: dist (no maps, no declarations), package.json, the check script.
cp package.json "$B/app/"
mkdir -p "$B/app/scripts"
cp scripts/gpu-check.sh "$B/app/scripts/"
(cd "$ROOT" && find dist -type f ! -name '*.map' ! -name '*.d.ts' ! -name '.mocha-stats.json' ! -name '.kernel-stats.json' -print0 |
  xargs -0 -I{} install -D -m 0644 {} "$B/app/{}")
chmod +x "$B/app/dist/lib/cli/main.js" 2>/dev/null || true

# 3. Runtime dependencies: every production package npm resolved, then pruned to what runs on linux-x64.
npm ls --omit=dev --all --parseable 2>/dev/null | tail -n +2 | sort -u | while read -r dir; do
  rel="${dir#"$ROOT"/}"
  case "$rel" in
    node_modules/@tensorflow/tfjs-node*) continue ;; # CUDA / libtensorflow: not this path
    # The Jupyter kernel's ZeroMQ and its build tools, core-js, Plotly: the CLI's check never loads them.
    node_modules/zeromq | node_modules/core-js | node_modules/rollup | node_modules/cmake-ts) continue ;;
    node_modules/plotly.js-dist-min | node_modules/yargs | node_modules/yargs-parser) continue ;;
    node_modules/*) ;;
    *) continue ;;
  esac
  [ -d "$dir" ] || continue
  mkdir -p "$B/app/$(dirname "$rel")"
  cp -a "$dir" "$B/app/$rel"
done
NM="$B/app/node_modules"
# Nested node_modules were copied with their parents; remove docs, sources, maps, declarations and tests everywhere.
find "$NM" \( -name '*.map' -o -name '*.d.ts' -o -name '*.md' -o -name '*.markdown' -o -name '*.ts.map' \) -type f -delete
find "$NM" -type d \( -name test -o -name tests -o -name __tests__ -o -name docs -o -name example -o -name examples \) -prune -exec rm -rf {} +
# tfjs: only the CommonJS node build of each package (package.json's main), wasm binaries and the wasm worker.
for p in "$NM"/@tensorflow/*; do
  [ -d "$p/dist" ] || continue
  find "$p" -mindepth 1 -maxdepth 1 ! -name dist ! -name package.json -exec rm -rf {} +
  find "$p/dist" -mindepth 1 \( -type d -o -type f \) ! -name '*.node.js' ! -name '*.wasm' ! -name '*worker*.js' -prune -exec rm -rf {} + 2>/dev/null || true
done
# Dawn: only linux-x64.
if [ -d "$NM/webgpu/dist" ]; then
  find "$NM/webgpu/dist" -mindepth 1 -maxdepth 1 ! -name linux-x64 -exec rm -rf {} +
  rm -rf "$NM/webgpu/build" "$NM/webgpu/third_party"
fi
# sharp: only linux-x64 glibc builds.
find "$NM/@img" -mindepth 1 -maxdepth 1 ! -name 'sharp-linux-x64' ! -name 'sharp-libvips-linux-x64' ! -name colour -exec rm -rf {} + 2>/dev/null || true
# tslab's TypeScript: the compiler only (its lib.*.d.ts are for the kernel's type checks, not for the check).
if [ -d "$NM/@tslab/typescript-for-tslab/lib" ]; then
  find "$NM/@tslab/typescript-for-tslab/lib" -mindepth 1 ! -name typescript.js -exec rm -rf {} +
fi

# 4. Fixtures, in ../shared's layout (the manifests name the weights by relative path).
for f in fixtures/reference fixtures/pretrained weights/vit_tiny_patch16_224 bench; do
  mkdir -p "$B/shared/$(dirname "$f")"
  cp -a "$SHARED/$f" "$B/shared/$f"
done

# 5. Vulkan loader .debs (the GPU machine has NVIDIA's ICD but maybe not the loader).
if command -v apt-get >/dev/null; then
  (cd "$B/debs" && apt-get download libvulkan1 libegl1 libglvnd0 >/dev/null 2>&1) ||
    echo "gpu-bundle: warning: apt-get download of the Vulkan loader .debs failed; the check then needs them installed" >&2
fi

echo "peftlab $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') bundle, node $(node --version), $(date -u +%FT%TZ)" >"$B/BUNDLE"
mkdir -p "$OUTDIR"
TARBALL="$OUTDIR/peftlab-gpu-bundle.tar.xz"
tar -C "$STAGE" -cf - peftlab-gpu | xz -T0 -7 >"$TARBALL.tmp"
mv "$TARBALL.tmp" "$TARBALL"
SIZE=$(stat -c %s "$TARBALL")
echo "gpu-bundle: $TARBALL $((SIZE / 1048576)) MiB (unpacked $(du -sm "$B" | cut -f1) MiB)"
[ "$SIZE" -le $((60 * 1048576)) ] || { echo "gpu-bundle: over 60 MiB" >&2; exit 1; }
