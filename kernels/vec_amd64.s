//go:build !noasm

#include "textflag.h"

// func addToAVX512(dst, src *float32, n int)
// dst[i] += src[i] for i < n (n ≥ 1); the tail uses a K mask.
TEXT ·addToAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
add512loop32:
	CMPQ CX, $32
	JLT  add512loop16
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VADDPS (SI), Z0, Z0
	VADDPS 64(SI), Z1, Z1
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	ADDQ $128, DI
	ADDQ $128, SI
	SUBQ $32, CX
	JMP  add512loop32
add512loop16:
	CMPQ CX, $16
	JLT  add512tail
	VMOVUPS (DI), Z0
	VADDPS (SI), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, DI
	ADDQ $64, SI
	SUBQ $16, CX
add512tail:
	TESTQ CX, CX
	JZ   add512done
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	VMOVUPS.Z (DI), K1, Z0
	VMOVUPS.Z (SI), K1, Z1
	VADDPS Z1, Z0, Z0
	VMOVUPS Z0, K1, (DI)
add512done:
	VZEROUPPER
	RET

// func addToAVX2(dst, src *float32, n int)
// dst[i] += src[i] for i < n (n a positive multiple of 8).
TEXT ·addToAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
add256loop:
	VMOVUPS (DI), Y0
	VADDPS (SI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	DECQ CX
	JNZ  add256loop
	VZEROUPPER
	RET

// TAILMASK sets K1 to the low CX bits (CX < 16) using AX.
#define TAILMASK \
	MOVL $1, AX; \
	SHLL CX, AX; \
	DECL AX; \
	KMOVW AX, K1

// RELU zeroes the lanes of Z0 that are not > 0 and not NaN (Z3 = 0).
#define RELU \
	VCMPPS $0x16, Z3, Z0, K2; \
	VMOVAPS.Z Z0, K2, Z0

// func affineAVX512(dst, src *float32, n int, a, c float32, relu int)
TEXT ·affineAVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS a+24(FP), Z1
	VBROADCASTSS c+28(FP), Z2
	MOVQ relu+32(FP), DX
	VPXORD Z3, Z3, Z3
aff16:
	CMPQ CX, $16
	JLT  afftail
	VMULPS (SI), Z1, Z0
	VADDPS Z2, Z0, Z0
	TESTQ DX, DX
	JZ   affst
	RELU
affst:
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  aff16
afftail:
	TESTQ CX, CX
	JZ   affdone
	TAILMASK
	VMOVUPS.Z (SI), K1, Z0
	VMULPS Z0, Z1, Z0
	VADDPS Z2, Z0, Z0
	TESTQ DX, DX
	JZ   affst2
	RELU
affst2:
	VMOVUPS Z0, K1, (DI)
affdone:
	VZEROUPPER
	RET

// func addVecAVX512(dst, x, y *float32, n int, relu int)
TEXT ·addVecAVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), R8
	MOVQ n+24(FP), CX
	MOVQ relu+32(FP), DX
	VPXORD Z3, Z3, Z3
av16:
	CMPQ CX, $16
	JLT  avtail
	VMOVUPS (SI), Z0
	VADDPS (R8), Z0, Z0
	TESTQ DX, DX
	JZ   avst
	RELU
avst:
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, R8
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  av16
avtail:
	TESTQ CX, CX
	JZ   avdone
	TAILMASK
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (R8), K1, Z1
	VADDPS Z1, Z0, Z0
	TESTQ DX, DX
	JZ   avst2
	RELU
avst2:
	VMOVUPS Z0, K1, (DI)
avdone:
	VZEROUPPER
	RET

// func reluMaskAVX512(dst, dy, y *float32, n int)
TEXT ·reluMaskAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ dy+8(FP), SI
	MOVQ y+16(FP), R8
	MOVQ n+24(FP), CX
	VPXORD Z3, Z3, Z3
rm16:
	CMPQ CX, $16
	JLT  rmtail
	VMOVUPS (R8), Z1
	VCMPPS $0x16, Z3, Z1, K2
	VMOVUPS.Z (SI), K2, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, R8
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  rm16
rmtail:
	TESTQ CX, CX
	JZ   rmdone
	TAILMASK
	VMOVUPS.Z (R8), K1, Z1
	VCMPPS $0x16, Z3, Z1, K2
	KANDW K1, K2, K2
	VMOVUPS.Z (SI), K2, Z0
	VMOVUPS Z0, K1, (DI)
rmdone:
	VZEROUPPER
	RET

// func prefetchLines(x *float32, n int)
// PREFETCHT0 on every 64-byte line of x[0:n] (n ≥ 1).
TEXT ·prefetchLines(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	LEAQ -4(SI)(CX*4), CX // last element
pfloop:
	PREFETCHT0 (SI)
	ADDQ $64, SI
	CMPQ SI, CX
	JLE  pfloop
	PREFETCHT0 (CX)
	RET
