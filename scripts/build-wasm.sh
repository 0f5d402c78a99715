#!/usr/bin/env bash
# Builds peftlab's own WASM SIMD kernels: lib/backend/wasm/{simd_kernels,sgemm}.c → simd_kernels.wasm, the GEMM
# worker's sgemm_shared.wasm, their relaxed-SIMD FMA variants (*_fma.wasm), and simd_kernels_wasm.ts (the same bytes
# as base64, which is what the library loads, so dist/ needs no extra files). The built files are committed;
# test/backend/wasm/build.test.ts rebuilds them into a temp folder and compares byte for byte wherever the pinned
# toolchain is installed (CI installs it: .ci/run).
#
#   scripts/build-wasm.sh            # rebuild in place
#   scripts/build-wasm.sh OUTDIR     # build into OUTDIR (the test uses this to compare)
#
# The toolchain is pinned: Debian's clang 16.0.6 and its wasm-ld (apt-get install clang-16 lld-16). Its relaxed-SIMD
# builtin emits the standard f32x4.relaxed_madd opcode, so the bytes are used as the compiler wrote them. Another
# compiler version may emit other bytes (and the committed files would then disagree with every rebuild), so it is
# refused. CLANG=... names another clang 16.0.6 binary.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$here/lib/backend/wasm"
out="${1:-$src}"
CLANG="${CLANG:-clang-16}"
PINNED="16.0.6"

if ! command -v "$CLANG" >/dev/null; then
  echo "build-wasm: $CLANG not found; install the pinned toolchain: apt-get install clang-16 lld-16" >&2
  exit 2
fi
version="$("$CLANG" --version | head -1)"
if ! grep -q "clang version $PINNED\b" <<<"$version"; then
  echo "build-wasm: $CLANG is \"$version\"; the kernels are built with clang $PINNED only (the committed bytes" \
    "come from it). Install Debian's clang-16 and lld-16 ($PINNED), or set CLANG to a clang $PINNED binary." >&2
  exit 2
fi
# Debian's clang-16 links wasm with lld-16's /usr/bin/wasm-ld-16.
if ! wasm-ld-16 --version 2>/dev/null | grep -q "LLD $PINNED\b"; then
  echo "build-wasm: wasm-ld-16 ($PINNED) not found; install lld-16" >&2
  exit 2
fi
mkdir -p "$out"

# --import-memory: the kernels run on tfjs-backend-wasm's own memory. -fno-builtin: no libc calls;
# -mbulk-memory turns the one memset into memory.fill.
cflags=(--target=wasm32 -O3 -msimd128 -mbulk-memory -nostdlib -ffreestanding -fno-builtin -Wall -Wextra -Werror)
build() { # build <out.wasm> <sources> <extra clang flags...>
  local wasm="$1" sources="$2"
  shift 2
  # shellcheck disable=SC2086 # $sources is a list of files
  "$CLANG" "${cflags[@]}" "$@" -Wl,--no-entry -Wl,--import-memory -Wl,--strip-all -o "$wasm" $sources
  # The module shares tfjs's memory, so it must never write memory of its own. No shadow stack: the compiler's own
  # assembly of each source must never touch a global (wasm-ld still declares an unused __stack_pointer).
  local asm file arg compile=()
  for arg in "$@"; do [[ "$arg" == -Wl,* ]] || compile+=("$arg"); done
  for file in $sources; do
    asm="$("$CLANG" "${cflags[@]}" "${compile[@]}" -S -o - "$file")"
    if grep -qE "global\.(get|set)" <<<"$asm"; then
      echo "build-wasm: $file uses the shadow stack (__stack_pointer); it would write into tfjs memory" >&2
      exit 1
    fi
    if grep -E "relaxed_" <<<"$asm" | grep -vq "f32x4\.relaxed_madd"; then
      echo "build-wasm: $file uses a relaxed-SIMD instruction other than f32x4.relaxed_madd" >&2
      exit 1
    fi
  done
}

all="$src/simd_kernels.c $src/sgemm.c"
# The GEMM worker's build: sgemm.c alone on a *shared* memory (max 2 GiB), which the main thread writes operands into.
shared=(-matomics -Wl,--shared-memory -Wl,--max-memory=2147483648)
build "$out/simd_kernels.wasm" "$all"
build "$out/sgemm_shared.wasm" "$src/sgemm.c" "${shared[@]}"
build "$out/simd_kernels_fma.wasm" "$all" -DPEFTLAB_FMA -mrelaxed-simd
build "$out/sgemm_shared_fma.wasm" "$src/sgemm.c" "${shared[@]}" -DPEFTLAB_FMA -mrelaxed-simd

# Checks, with Node's own engine (no disassembler needed):
# - the modules share tfjs's memory, so they must never write memory of their own: no data segment (sections 11,
#   12) and no globals (section 6: a shadow stack's __stack_pointer would write into tfjs memory);
# - the plain builds validate without flags; the FMA builds fail without --experimental-wasm-relaxed-simd (so they
#   do use relaxed SIMD) and validate with it (so the opcodes are the standard ones V8 knows).
check() { # check <flags> <script> <files...>
  local flags="$1" script="$2"
  shift 2
  # shellcheck disable=SC2086 # $flags may be empty
  node $flags -e "$script" "$@"
}
sections='
const fs = require("fs");
for (const file of process.argv.slice(1)) {
  const b = fs.readFileSync(file);
  for (let at = 8; at < b.length; ) {
    const id = b[at++];
    let size = 0;
    for (let shift = 0; ; shift += 7) {
      const x = b[at++];
      size += (x & 0x7f) * 2 ** shift;
      if (!(x & 0x80)) break;
    }
    if (id === 11 || id === 12) throw new Error(`${file} has a data segment; it would overwrite tfjs memory`);
    at += size;
  }
}'
validates='
for (const file of process.argv.slice(2)) {
  const ok = WebAssembly.validate(require("fs").readFileSync(file));
  if (ok !== (process.argv[1] === "yes")) throw new Error(`${file}: validates=${ok}, expected ${process.argv[1]}`);
}'
plain=("$out/simd_kernels.wasm" "$out/sgemm_shared.wasm")
fma=("$out/simd_kernels_fma.wasm" "$out/sgemm_shared_fma.wasm")
check "" "$sections" "${plain[@]}" "${fma[@]}"
check "" "$validates" yes "${plain[@]}"
check "" "$validates" no "${fma[@]}"
check "--experimental-wasm-relaxed-simd" "$validates" yes "${fma[@]}"

b64="$(base64 -w0 "$out/simd_kernels.wasm")"
b64fma="$(base64 -w0 "$out/simd_kernels_fma.wasm")"
b64shared="$(base64 -w0 "$out/sgemm_shared.wasm")"
b64sharedfma="$(base64 -w0 "$out/sgemm_shared_fma.wasm")"
cat >"$out/simd_kernels_wasm.ts" <<TS
/**
 * GENERATED by scripts/build-wasm.sh from simd_kernels.c and sgemm.c — do not edit. The bytes of the four .wasm
 * builds as base64, so the library carries its kernels inside dist/ without copying binary files.
 */

/** The compiler that produced these bytes (scripts/build-wasm.sh accepts only this version). */
export const SIMD_KERNELS_BUILT_WITH = "$version";

/** simd_kernels.wasm, base64: multiply-adds as f32x4.mul + f32x4.add (any wasm SIMD engine). */
export const SIMD_KERNELS_WASM_BASE64 =
  "$b64";

/** simd_kernels_fma.wasm, base64: multiply-adds as relaxed SIMD's f32x4.relaxed_madd. */
export const SIMD_KERNELS_FMA_WASM_BASE64 =
  "$b64fma";

/** sgemm_shared.wasm, base64: sgemm.c alone on a shared memory (the GEMM worker), mul + add. */
export const SGEMM_SHARED_WASM_BASE64 =
  "$b64shared";

/** sgemm_shared_fma.wasm, base64: the same with f32x4.relaxed_madd. */
export const SGEMM_SHARED_FMA_WASM_BASE64 =
  "$b64sharedfma";
TS
echo "built $out/{simd_kernels,sgemm_shared}{,_fma}.wasm and simd_kernels_wasm.ts with $version"
