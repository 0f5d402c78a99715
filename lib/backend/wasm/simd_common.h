// Shared by peftlab's WASM SIMD kernels (simd_kernels.c, sgemm.c).
#ifndef PEFTLAB_SIMD_COMMON_H
#define PEFTLAB_SIMD_COMMON_H
#include <wasm_simd128.h>

#define LD(p) wasm_v128_load(p)
#define ST(p, v) wasm_v128_store(p, v)

// acc += a·b, four lanes. The FMA build (-DPEFTLAB_FMA -mrelaxed-simd) uses relaxed SIMD's f32x4.relaxed_madd, which
// V8 lowers to one vfmadd231ps where the CPU has FMA3 (and to mul + add where it has not). clang 16 (the pinned
// toolchain, scripts/build-wasm.sh) emits it with the standard opcode 0xfd 0x85 0x02; operands (a, b, c) → a·b + c.
#ifdef PEFTLAB_FMA
#define FMA(acc, a, b) acc = __builtin_wasm_relaxed_madd_f32x4(a, b, acc)
#else
#define FMA(acc, a, b) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(a, b))
#endif

#endif
