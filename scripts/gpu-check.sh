#!/usr/bin/env bash
# The prepared device check of the webgpu backend (issue 21). On a GPU machine with no Node.js and no network it
# unpacks the bundle made by scripts/gpu-bundle.sh; in a checkout with node_modules it runs the checkout (here:
# `--quick` on SwiftShader). It runs, each within a time budget (about 8 minutes in all):
#   1. peftlab info --backend webgpu (adapter, limits)
#   2. check-parity on webgpu: reference manifest (and the pretrained ViT-Ti unless --quick)
#   3. peftlab bench --backend webgpu: ViT-S/16 LoRA step, ViT inference, MobileNetV2 fine-tuning, with PyTorch's
#      ../shared/bench/torch_vit_lora.py on CUDA as --compare where python3 has torch with CUDA
#   4. the same workloads on the best CPU backend (wasm), for the webgpu/CPU ratio
# and writes gpu-check.json (summary), the step JSONs and gpu-check.log under $OUT (or ./gpu-check-out).
# Usage: scripts/gpu-check.sh [--quick] [--bundle FILE.tar.xz]
set -uo pipefail
HERE="$(cd "$(dirname "$0")/.." && pwd)"
QUICK=0
BUNDLE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; shift ;;
    --bundle) BUNDLE="$2"; shift 2 ;;
    *) echo "gpu-check: unknown option $1 (expected --quick, --bundle FILE)" >&2; exit 2 ;;
  esac
done
OUTDIR="${OUT:-$HERE/gpu-check-out}"
mkdir -p "$OUTDIR"
LOG="$OUTDIR/gpu-check.log"
: >"$LOG"
exec > >(tee -a "$LOG") 2>&1
say() { echo "[gpu-check $(date -u +%T)] $*"; }

# --- Runtime: the bundle (GPU machine) or this checkout ---------------------------------------------------------
[ -z "$BUNDLE" ] && [ -f "$HERE/gpu-bundle/peftlab-gpu-bundle.tar.xz" ] && ! [ -d "$HERE/node_modules" ] &&
  BUNDLE="$HERE/gpu-bundle/peftlab-gpu-bundle.tar.xz"
if [ -n "$BUNDLE" ]; then
  WORK="$(mktemp -d)"
  say "unpacking $BUNDLE"
  tar -C "$WORK" -xJf "$BUNDLE" || { say "cannot unpack $BUNDLE"; exit 1; }
  NODE="$WORK/peftlab-gpu/node/bin/node"
  APP="$WORK/peftlab-gpu/app"
  export PEFTLAB_SHARED="$WORK/peftlab-gpu/shared"
  # Vulkan loader: unpack the carried .debs where the system has no libvulkan.so.1.
  if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
    SYS="$WORK/sys"
    mkdir -p "$SYS"
    for d in "$WORK"/peftlab-gpu/debs/*.deb; do
      [ -f "$d" ] || continue
      if command -v dpkg >/dev/null; then dpkg -x "$d" "$SYS"; else (cd "$SYS" && ar p "$d" data.tar.xz | tar -xJ); fi
    done
    export LD_LIBRARY_PATH="$SYS/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    say "Vulkan loader from the carried .debs: $SYS/usr/lib/x86_64-linux-gnu"
  fi
else
  NODE="$(command -v node || true)"
  APP="$HERE"
  [ -n "$NODE" ] || { say "no node and no bundle: pass --bundle gpu-bundle/peftlab-gpu-bundle.tar.xz"; exit 1; }
  [ -f "$APP/dist/lib/cli/main.js" ] || { say "dist/ is missing: run npm run build"; exit 1; }
  export PEFTLAB_SHARED="${PEFTLAB_SHARED:-$(cd "$HERE/../shared" 2>/dev/null && pwd)}"
fi
say "node $("$NODE" --version), app $APP, shared $PEFTLAB_SHARED, quick=$QUICK"

# --- Adapter: SwiftShader for --quick; on a GPU machine NVIDIA's ICD where Dawn finds nothing by itself -----------
probe() {
  (cd "$APP" && "$NODE" -e 'require("./dist/lib/backend/webgpu").probeWebgpu().then((p) => {
    if (typeof p === "string") { console.log("none: " + p); process.exit(1); }
    console.log(require("./dist/lib/backend/webgpu").adapterName(p.report) + (p.report.software ? " [software]" : ""));
    process.exit(0); })' 2>/dev/null)
}
if [ "$QUICK" = 1 ] && [ -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ] && [ -f /usr/lib/chromium/vk_swiftshader_icd.json ]; then
  export VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json
fi
if ! ADAPTER="$(probe)" || [[ "$ADAPTER" == *"[software]"* && "$QUICK" = 0 ]]; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/*.json /usr/share/vulkan/icd.d/nvidia*.json /etc/vulkan/icd.d/nvidia*.json; do
    [ -f "$icd" ] || continue
    export VK_DRIVER_FILES="$icd"
    say "Dawn found ${ADAPTER:-nothing} by itself; trying VK_DRIVER_FILES=$icd"
    ADAPTER="$(probe)" && break
  done
fi
say "adapter: ${ADAPTER:-none}"
export PEFTLAB_BACKEND=webgpu

STATUS=0
# Budgets fit about 8 minutes on the GPU machine; --quick on SwiftShader (a shared CI core) gets 4× as long.
SCALE=1
[ "$QUICK" = 1 ] && SCALE=4
step() { # step NAME SECONDS CMD...: runs with a time budget, records its exit code
  local name="$1" secs=$(($2 * SCALE))
  shift 2
  say "$name (budget ${secs}s)"
  local t0=$SECONDS
  timeout --signal=TERM "$secs" "$@"
  local rc=$?
  say "$name: exit $rc after $((SECONDS - t0)) s"
  echo "$name $rc $((SECONDS - t0))" >>"$OUTDIR/steps.txt"
  [ $rc = 0 ] || STATUS=1
}
: >"$OUTDIR/steps.txt"

# 1. info
step info 60 bash -c "\"$NODE\" \"$APP/dist/lib/cli/main.js\" info --backend webgpu --json >\"$OUTDIR/info.json\""
# 2. parity
step parity_reference 150 bash -c "\"$NODE\" \"$APP/dist/lib/cli/main.js\" check-parity \"$PEFTLAB_SHARED/fixtures/reference/manifest.json\" --backend webgpu --json >\"$OUTDIR/parity_reference.json\""
if [ "$QUICK" = 0 ]; then
  step parity_pretrained 90 bash -c "\"$NODE\" \"$APP/dist/lib/cli/main.js\" check-parity \"$PEFTLAB_SHARED/fixtures/pretrained/manifest.json\" --backend webgpu --json >\"$OUTDIR/parity_pretrained.json\""
fi
# 3. bench on webgpu (+ PyTorch CUDA reference in the same run)
WL=vit_lora_train,vit_infer,mnv2_train
BARGS=(--workloads "$WL")
if [ "$QUICK" = 1 ]; then BARGS+=(--quick --repeats 1 --warmup 1); else BARGS+=(--repeats 3 --warmup 1 --micro-batch 16); fi
COMPARE=()
if [ "$QUICK" = 0 ] && command -v python3 >/dev/null &&
  python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  COMPARE=(--compare "python3 $PEFTLAB_SHARED/bench/torch_vit_lora.py 16 --device cuda")
  say "PyTorch with CUDA found: its ViT-S/16 LoRA figures go into the webgpu bench as --compare"
fi
step bench_webgpu 240 "$NODE" "$APP/dist/lib/cli/main.js" bench --backend webgpu "${BARGS[@]}" "${COMPARE[@]}" --out "$OUTDIR/bench_webgpu.json"
# 4. the same workloads on the best CPU backend (wasm: peftlab's SIMD kernels / native GEMM)
CARGS=(--workloads "$WL")
if [ "$QUICK" = 1 ]; then CARGS+=(--quick --repeats 1 --warmup 0); else CARGS+=(--repeats 1 --warmup 1); fi
step bench_cpu 150 env PEFTLAB_BACKEND=wasm "$NODE" "$APP/dist/lib/cli/main.js" bench --backend wasm "${CARGS[@]}" --out "$OUTDIR/bench_cpu.json"

# --- Summary -----------------------------------------------------------------------------------------------------
"$NODE" - "$OUTDIR" "$QUICK" "${ADAPTER:-none}" <<'EOF'
const fs = require("fs"), path = require("path");
const [dir, quick, adapter] = process.argv.slice(2);
const read = (f) => { try { return JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")); } catch { return null; } };
const parity = ["parity_reference.json", "parity_pretrained.json"].map(read).filter(Boolean);
const worst = Math.max(...parity.flatMap((p) => p.rows.map((r) => Math.max(r.logitsErr ?? 0, r.featuresErr ?? 0))));
const gpu = read("bench_webgpu.json"), cpu = read("bench_cpu.json");
const rate = (rep, w) => rep?.results.find((r) => r.workload === w && r.status === "ok")?.imgPerS ?? null;
const workloads = ["vit_lora_train", "vit_infer", "mnv2_train"].map((w) => {
  const g = rate(gpu, w), c = rate(cpu, w);
  const res = gpu?.results.find((r) => r.workload === w);
  return { workload: w, webgpuImgPerS: g, cpuImgPerS: c, webgpuOverCpu: g && c ? +(g / c).toFixed(3) : null,
    peakGpuBytes: res?.memory?.gpuPeakBytes ?? null };
});
const steps = fs.readFileSync(path.join(dir, "steps.txt"), "utf8").trim().split("\n").map((l) => {
  const [name, rc, s] = l.split(" "); return { name, exit: +rc, seconds: +s }; });
const summary = { date: new Date().toISOString(), quick: quick === "1", adapter,
  adapterInfo: read("info.json")?.backend?.adapter ?? null,
  parity: { cases: parity.flatMap((p) => p.rows.map((r) => ({ case: r.case, status: r.status, logitsErr: r.logitsErr, featuresErr: r.featuresErr }))), worst: Number.isFinite(worst) ? worst : null },
  workloads, torchRatios: gpu?.ratios ?? [], cpuBackend: cpu?.results?.[0]?.backend ?? null, steps };
fs.writeFileSync(path.join(dir, "gpu-check.json"), JSON.stringify(summary, null, 2) + "\n");
console.log(JSON.stringify({ adapter, parityWorst: summary.parity.worst, workloads }, null, 1));
EOF
say "done: $OUTDIR/gpu-check.json (status $STATUS)"
exit $STATUS
