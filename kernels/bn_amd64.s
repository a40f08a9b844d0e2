//go:build !noasm

#include "textflag.h"

// The BatchNorm plane kernels (bn.go): reductions over two 16-lane
// accumulators (element i in lane i mod 32, missing tail lanes add +0),
// folded by halving exactly as the Go twins do.

// BNMASK sets K1 to the low CX bits (0 ≤ CX < 16) using AX.
#define BNMASK \
	MOVL $1, AX; \
	SHLL CX, AX; \
	DECL AX; \
	KMOVW AX, K1

// FOLD64 leaves Z0+Z1+Z2+Z3 (lanes 0–7, 8–15, 16–23, 24–31) folded to one
// float64 in X0: lane l += lane l+h for h = 16, 8, 4, 2, 1.
#define FOLD64 \
	VADDPD Z2, Z0, Z0; \
	VADDPD Z3, Z1, Z1; \
	VADDPD Z1, Z0, Z0; \
	VEXTRACTF64X4 $1, Z0, Y1; \
	VADDPD Y1, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	VADDPD X1, X0, X0; \
	VPERMILPD $1, X0, X1; \
	VADDSD X1, X0, X0

// FOLD32 leaves (Z0+Z1) folded to one float32 in X0: lane l += lane l+h for
// h = 16, 8, 4, 2, 1.
#define FOLD32 \
	VADDPS Z1, Z0, Z0; \
	VEXTRACTF64X4 $1, Z0, Y1; \
	VADDPS Y1, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	VADDPS X1, X0, X0; \
	VPERMILPD $1, X0, X1; \
	VADDPS X1, X0, X0; \
	VMOVSHDUP X0, X1; \
	VADDSS X1, X0, X0

// func sumAVX512(x *float32, n, ahead int) float64
// The float32 values are widened and summed in float64 (lanes 0–7 in Z0,
// 8–15 in Z1, 16–23 in Z2, 24–31 in Z3). ahead: byte distance of the plane
// to prefetch (the next one).
TEXT ·sumAVX512(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ ahead+16(FP), R12
	VPXORQ Z0, Z0, Z0
	VPXORQ Z1, Z1, Z1
	VPXORQ Z2, Z2, Z2
	VPXORQ Z3, Z3, Z3
sum32:
	CMPQ CX, $32
	JLT  sumtail
	PREFETCHT0 (SI)(R12*1)
	PREFETCHT0 64(SI)(R12*1)
	VCVTPS2PD (SI), Z4
	VCVTPS2PD 32(SI), Z5
	VCVTPS2PD 64(SI), Z6
	VCVTPS2PD 96(SI), Z7
	VADDPD Z4, Z0, Z0
	VADDPD Z5, Z1, Z1
	VADDPD Z6, Z2, Z2
	VADDPD Z7, Z3, Z3
	ADDQ $128, SI
	SUBQ $32, CX
	JMP  sum32
sumtail:
	TESTQ CX, CX
	JZ   sumfold
	// K3: the first min(n, 16) lanes, K1: the next n − 16 (if any).
	MOVQ CX, R13
	CMPQ CX, $16
	JLE  sumt1
	MOVQ $16, CX
sumt1:
	BNMASK
	KMOVW K1, K3
	MOVQ R13, CX
	SUBQ $16, CX
	JG   sumt2
	XORQ CX, CX
sumt2:
	BNMASK
	VMOVUPS.Z (SI), K3, Z8
	VMOVUPS.Z 64(SI), K1, Z9
	VCVTPS2PD Y8, Z4
	VEXTRACTF64X4 $1, Z8, Y10
	VCVTPS2PD Y10, Z5
	VCVTPS2PD Y9, Z6
	VEXTRACTF64X4 $1, Z9, Y11
	VCVTPS2PD Y11, Z7
	VADDPD Z4, Z0, Z0
	VADDPD Z5, Z1, Z1
	VADDPD Z6, Z2, Z2
	VADDPD Z7, Z3, Z3
sumfold:
	FOLD64
	VMOVSD X0, ret+24(FP)
	VZEROUPPER
	RET

// SQDEV64 widens the deviations d = x − m (float32; lanes outside K keep
// +0) of the 16 floats at off(SI) and adds d² in float64 to lo (lanes 0–7)
// and hi (8–15).
#define SQDEV64(off, K, lo, hi) \
	VMOVUPS.Z off(SI), K, Z8; \
	VSUBPS.Z Z12, Z8, K, Z8; \
	VCVTPS2PD Y8, Z4; \
	VEXTRACTF64X4 $1, Z8, Y9; \
	VCVTPS2PD Y9, Z5; \
	VMULPD Z4, Z4, Z4; \
	VMULPD Z5, Z5, Z5; \
	VADDPD Z4, lo, lo; \
	VADDPD Z5, hi, hi

// func sqDevAVX512(x *float32, n int, m float32) float64
TEXT ·sqDevAVX512(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS m+16(FP), Z12
	VPXORQ Z0, Z0, Z0
	VPXORQ Z1, Z1, Z1
	VPXORQ Z2, Z2, Z2
	VPXORQ Z3, Z3, Z3
	MOVL $0xffff, AX
	KMOVW AX, K2
sq32:
	CMPQ CX, $32
	JLT  sqtail
	SQDEV64(0, K2, Z0, Z1)
	SQDEV64(64, K2, Z2, Z3)
	ADDQ $128, SI
	SUBQ $32, CX
	JMP  sq32
sqtail:
	TESTQ CX, CX
	JZ   sqfold
	// K3: the first min(n, 16) lanes, K1: the next n − 16 (if any).
	MOVQ CX, R13
	CMPQ CX, $16
	JLE  sqt1
	MOVQ $16, CX
sqt1:
	BNMASK
	KMOVW K1, K3
	MOVQ R13, CX
	SUBQ $16, CX
	JG   sqt2
	XORQ CX, CX
sqt2:
	BNMASK
	SQDEV64(0, K3, Z0, Z1)
	SQDEV64(64, K1, Z2, Z3)
sqfold:
	FOLD64
	VMOVSD X0, ret+24(FP)
	VZEROUPPER
	RET


// func gradStatsAVX512(x, dy, y *float32, n int, m float32, relu, ahead int) (sum, dot float32)
// ahead: byte distance of the planes to prefetch (the next ones).
TEXT ·gradStatsAVX512(SB), NOSPLIT, $0-64
	MOVQ x+0(FP), SI
	MOVQ dy+8(FP), R8
	MOVQ y+16(FP), R9
	MOVQ n+24(FP), CX
	VBROADCASTSS m+32(FP), Z3
	MOVQ relu+40(FP), DX
	MOVQ ahead+48(FP), R12
	VPXORD Z4, Z4, Z4
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	XORQ R10, R10       // byte offset of the current 32-block
gsblock:
	CMPQ CX, $0
	JLE  gsfold
	LEAQ (R10)(R12*1), R13
	PREFETCHT0 (SI)(R13*1)
	PREFETCHT0 64(SI)(R13*1)
	PREFETCHT0 (R8)(R13*1)
	PREFETCHT0 64(R8)(R13*1)
	TESTQ DX, DX
	JZ   gsnopf
	PREFETCHT0 (R9)(R13*1)
	PREFETCHT0 64(R9)(R13*1)
gsnopf:
	// K1: lanes 0..15 of the block, K5: lanes 16..31.
	CMPQ CX, $32
	JGE  gsfull
	CMPQ CX, $16
	JGE  gshalf
	BNMASK
	KXORW K5, K5, K5
	JMP  gsmasks
gshalf:
	SUBQ $16, CX
	BNMASK
	KMOVW K1, K5
	MOVL $0xffff, AX
	KMOVW AX, K1
	ADDQ $16, CX
	JMP  gsmasks
gsfull:
	MOVL $0xffff, AX
	KMOVW AX, K1
	KMOVW AX, K5
gsmasks:
	// First 16 lanes (mask K1 → K2 after the ReLU test).
	KMOVW K1, K2
	KMOVW K5, K6
	TESTQ DX, DX
	JZ   gsnorelu
	VMOVUPS.Z (R9)(R10*1), K1, Z5
	VCMPPS $0x16, Z4, Z5, K1, K2
	VMOVUPS.Z 64(R9)(R10*1), K5, Z5
	VCMPPS $0x16, Z4, Z5, K5, K6
gsnorelu:
	VMOVUPS.Z (R8)(R10*1), K2, Z6
	VMOVUPS.Z (SI)(R10*1), K1, Z7
	VSUBPS.Z Z3, Z7, K1, Z7
	VMULPS Z6, Z7, Z7
	VADDPS Z6, Z0, Z0
	VADDPS Z7, Z8, Z8
	VMOVUPS.Z 64(R8)(R10*1), K6, Z6
	VMOVUPS.Z 64(SI)(R10*1), K5, Z7
	VSUBPS.Z Z3, Z7, K5, Z7
	VMULPS Z6, Z7, Z7
	VADDPS Z6, Z1, Z1
	VADDPS Z7, Z9, Z9
	ADDQ $128, R10
	SUBQ $32, CX
	JMP  gsblock
gsfold:
	FOLD32
	VMOVSS X0, sum+56(FP)
	VMOVAPS Z8, Z0
	VMOVAPS Z9, Z1
	FOLD32
	VMOVSS X0, dot+60(FP)
	VZEROUPPER
	RET

// func bnGradAVX512(dx, dy, y, x *float32, n int, w, a, c float32, relu int)
TEXT ·bnGradAVX512(SB), NOSPLIT, $0-64
	MOVQ dx+0(FP), DI
	MOVQ dy+8(FP), R8
	MOVQ y+16(FP), R9
	MOVQ x+24(FP), SI
	MOVQ n+32(FP), CX
	VBROADCASTSS w+40(FP), Z1
	VBROADCASTSS a+44(FP), Z2
	VBROADCASTSS c+48(FP), Z3
	MOVQ relu+56(FP), DX
	VPXORD Z4, Z4, Z4
	XORQ R10, R10
bgblock:
	CMPQ CX, $0
	JLE  bgdone
	CMPQ CX, $16
	JGE  bgfull
	BNMASK
	JMP  bgmask
bgfull:
	MOVL $0xffff, AX
	KMOVW AX, K1
bgmask:
	KMOVW K1, K2
	TESTQ DX, DX
	JZ   bgnorelu
	VMOVUPS.Z (R9)(R10*1), K1, Z5
	VCMPPS $0x16, Z4, Z5, K1, K2
bgnorelu:
	VMOVUPS.Z (R8)(R10*1), K2, Z6
	VMULPS Z1, Z6, Z6
	VMOVUPS.Z (SI)(R10*1), K1, Z7
	VMULPS Z2, Z7, Z7
	VADDPS Z3, Z7, Z7
	VADDPS Z7, Z6, Z6
	VMOVUPS Z6, K1, (DI)(R10*1)
	ADDQ $64, R10
	SUBQ $16, CX
	JMP  bgblock
bgdone:
	VZEROUPPER
	RET
