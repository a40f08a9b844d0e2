//go:build !noasm

#include "textflag.h"

// VDPBF16PS_Z(src2, src1, dst): dst += src1·src2 in bfloat16 pairs (EVEX.512.F3.0F38.W0 52 /r,
// register form; the Go assembler has no AVX512_BF16 mnemonics). Operands are zmm numbers 0-31.
#define VDPBF16PS_Z(src2, src1, dst) \
	BYTE $0x62; \
	BYTE $((1-((dst>>3)&1))<<7 | (1-((src2>>4)&1))<<6 | (1-((src2>>3)&1))<<5 | (1-((dst>>4)&1))<<4 | 0x02); \
	BYTE $((15-(src1&15))<<3 | 0x06); \
	BYTE $(0x40 | (1-((src1>>4)&1))<<3); \
	BYTE $0x52; \
	BYTE $(0xC0 | (dst&7)<<3 | (src2&7))

// One k-pair step of the 8x32 AVX512_BF16 kernel: two zmm of B pairs (32
// columns), eight broadcasts of A pairs, sixteen VDPBF16PS into Z16..Z31.
// The layout and the store are those of kernAVX512x8x32 (kernel_amd64.s)
// with k counted in pairs.
#define KSTEPBF(ao, bo) \
	VMOVUPS bo(DI), Z0; \
	VMOVUPS bo+64(DI), Z1; \
	VPBROADCASTD ao(SI), Z2; \
	VPBROADCASTD ao+4(SI), Z3; \
	VDPBF16PS_Z(0, 2, 16); \
	VDPBF16PS_Z(1, 2, 17); \
	VDPBF16PS_Z(0, 3, 18); \
	VDPBF16PS_Z(1, 3, 19); \
	VPBROADCASTD ao+8(SI), Z4; \
	VPBROADCASTD ao+12(SI), Z5; \
	VDPBF16PS_Z(0, 4, 20); \
	VDPBF16PS_Z(1, 4, 21); \
	VDPBF16PS_Z(0, 5, 22); \
	VDPBF16PS_Z(1, 5, 23); \
	VPBROADCASTD ao+16(SI), Z6; \
	VPBROADCASTD ao+20(SI), Z7; \
	VDPBF16PS_Z(0, 6, 24); \
	VDPBF16PS_Z(1, 6, 25); \
	VDPBF16PS_Z(0, 7, 26); \
	VDPBF16PS_Z(1, 7, 27); \
	VPBROADCASTD ao+24(SI), Z8; \
	VPBROADCASTD ao+28(SI), Z9; \
	VDPBF16PS_Z(0, 8, 28); \
	VDPBF16PS_Z(1, 8, 29); \
	VDPBF16PS_Z(0, 9, 30); \
	VDPBF16PS_Z(1, 9, 31)

// func kernBF16x8x32(kc2 int, a, b *uint32, c *float32, ldc, mr, nr int, alpha, beta float32, loadC int)
TEXT ·kernBF16x8x32(SB), NOSPLIT, $0-72
	MOVQ kc2+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	// Prefetch the C tile (read at the end when beta != 0).
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8
	MOVQ DX, AX
	PREFETCHT0 (AX)
	PREFETCHT0 64(AX)
	ADDQ R8, AX
	PREFETCHT0 (AX)
	PREFETCHT0 64(AX)
	ADDQ R8, AX
	PREFETCHT0 (AX)
	PREFETCHT0 64(AX)
	ADDQ R8, AX
	PREFETCHT0 (AX)
	PREFETCHT0 64(AX)
	ADDQ R8, AX
	PREFETCHT0 (AX)
	PREFETCHT0 64(AX)
	ADDQ R8, AX
	PREFETCHT0 (AX)
	PREFETCHT0 64(AX)
	ADDQ R8, AX
	PREFETCHT0 (AX)
	PREFETCHT0 64(AX)
	ADDQ R8, AX
	PREFETCHT0 (AX)
	PREFETCHT0 64(AX)
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	VPXORD Z24, Z24, Z24
	VPXORD Z25, Z25, Z25
	VPXORD Z26, Z26, Z26
	VPXORD Z27, Z27, Z27
	VPXORD Z28, Z28, Z28
	VPXORD Z29, Z29, Z29
	VPXORD Z30, Z30, Z30
	VPXORD Z31, Z31, Z31
	MOVQ CX, BX
	SHRQ $2, BX
	JZ   kbftail
kbfloop4:
	KSTEPBF(0, 0)
	KSTEPBF(32, 128)
	KSTEPBF(64, 256)
	KSTEPBF(96, 384)
	ADDQ $128, SI
	ADDQ $512, DI
	DECQ BX
	JNZ  kbfloop4
kbftail:
	ANDQ $3, CX
	JZ   kbfstore
kbfloop1:
	KSTEPBF(0, 0)
	ADDQ $32, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  kbfloop1
kbfstore:
	// K1, K2: column masks of the two 16-wide halves for nr columns.
	MOVQ nr+48(FP), R10
	MOVQ R10, CX
	CMPQ CX, $16
	JLE  kbfm1
	MOVQ $16, CX
kbfm1:
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	MOVQ R10, CX
	SUBQ $16, CX
	JGE  kbfm2
	XORQ CX, CX
kbfm2:
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K2
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8
	MOVQ mr+40(FP), R9
	VBROADCASTSS alpha+56(FP), Z0
	VBROADCASTSS beta+60(FP), Z1
	MOVQ loadC+64(FP), AX
	TESTQ AX, AX
	JZ   kbfnobeta
	VMOVUPS.Z (DX), K1, Z2
	VMOVUPS.Z 64(DX), K2, Z3
	VMULPS Z1, Z2, Z2
	VMULPS Z1, Z3, Z3
	VFMADD231PS Z0, Z16, Z2
	VFMADD231PS Z0, Z17, Z3
	VMOVUPS Z2, K1, (DX)
	VMOVUPS Z3, K2, 64(DX)
	CMPQ R9, $1
	JEQ  kbfdone
	ADDQ R8, DX
	VMOVUPS.Z (DX), K1, Z2
	VMOVUPS.Z 64(DX), K2, Z3
	VMULPS Z1, Z2, Z2
	VMULPS Z1, Z3, Z3
	VFMADD231PS Z0, Z18, Z2
	VFMADD231PS Z0, Z19, Z3
	VMOVUPS Z2, K1, (DX)
	VMOVUPS Z3, K2, 64(DX)
	CMPQ R9, $2
	JEQ  kbfdone
	ADDQ R8, DX
	VMOVUPS.Z (DX), K1, Z2
	VMOVUPS.Z 64(DX), K2, Z3
	VMULPS Z1, Z2, Z2
	VMULPS Z1, Z3, Z3
	VFMADD231PS Z0, Z20, Z2
	VFMADD231PS Z0, Z21, Z3
	VMOVUPS Z2, K1, (DX)
	VMOVUPS Z3, K2, 64(DX)
	CMPQ R9, $3
	JEQ  kbfdone
	ADDQ R8, DX
	VMOVUPS.Z (DX), K1, Z2
	VMOVUPS.Z 64(DX), K2, Z3
	VMULPS Z1, Z2, Z2
	VMULPS Z1, Z3, Z3
	VFMADD231PS Z0, Z22, Z2
	VFMADD231PS Z0, Z23, Z3
	VMOVUPS Z2, K1, (DX)
	VMOVUPS Z3, K2, 64(DX)
	CMPQ R9, $4
	JEQ  kbfdone
	ADDQ R8, DX
	VMOVUPS.Z (DX), K1, Z2
	VMOVUPS.Z 64(DX), K2, Z3
	VMULPS Z1, Z2, Z2
	VMULPS Z1, Z3, Z3
	VFMADD231PS Z0, Z24, Z2
	VFMADD231PS Z0, Z25, Z3
	VMOVUPS Z2, K1, (DX)
	VMOVUPS Z3, K2, 64(DX)
	CMPQ R9, $5
	JEQ  kbfdone
	ADDQ R8, DX
	VMOVUPS.Z (DX), K1, Z2
	VMOVUPS.Z 64(DX), K2, Z3
	VMULPS Z1, Z2, Z2
	VMULPS Z1, Z3, Z3
	VFMADD231PS Z0, Z26, Z2
	VFMADD231PS Z0, Z27, Z3
	VMOVUPS Z2, K1, (DX)
	VMOVUPS Z3, K2, 64(DX)
	CMPQ R9, $6
	JEQ  kbfdone
	ADDQ R8, DX
	VMOVUPS.Z (DX), K1, Z2
	VMOVUPS.Z 64(DX), K2, Z3
	VMULPS Z1, Z2, Z2
	VMULPS Z1, Z3, Z3
	VFMADD231PS Z0, Z28, Z2
	VFMADD231PS Z0, Z29, Z3
	VMOVUPS Z2, K1, (DX)
	VMOVUPS Z3, K2, 64(DX)
	CMPQ R9, $7
	JEQ  kbfdone
	ADDQ R8, DX
	VMOVUPS.Z (DX), K1, Z2
	VMOVUPS.Z 64(DX), K2, Z3
	VMULPS Z1, Z2, Z2
	VMULPS Z1, Z3, Z3
	VFMADD231PS Z0, Z30, Z2
	VFMADD231PS Z0, Z31, Z3
	VMOVUPS Z2, K1, (DX)
	VMOVUPS Z3, K2, 64(DX)
	JMP kbfdone
kbfnobeta:
	VMULPS Z0, Z16, Z2
	VMULPS Z0, Z17, Z3
	VMOVUPS Z2, K1, (DX)
	VMOVUPS Z3, K2, 64(DX)
	CMPQ R9, $1
	JEQ  kbfdone
	ADDQ R8, DX
	VMULPS Z0, Z18, Z2
	VMULPS Z0, Z19, Z3
	VMOVUPS Z2, K1, (DX)
	VMOVUPS Z3, K2, 64(DX)
	CMPQ R9, $2
	JEQ  kbfdone
	ADDQ R8, DX
	VMULPS Z0, Z20, Z2
	VMULPS Z0, Z21, Z3
	VMOVUPS Z2, K1, (DX)
	VMOVUPS Z3, K2, 64(DX)
	CMPQ R9, $3
	JEQ  kbfdone
	ADDQ R8, DX
	VMULPS Z0, Z22, Z2
	VMULPS Z0, Z23, Z3
	VMOVUPS Z2, K1, (DX)
	VMOVUPS Z3, K2, 64(DX)
	CMPQ R9, $4
	JEQ  kbfdone
	ADDQ R8, DX
	VMULPS Z0, Z24, Z2
	VMULPS Z0, Z25, Z3
	VMOVUPS Z2, K1, (DX)
	VMOVUPS Z3, K2, 64(DX)
	CMPQ R9, $5
	JEQ  kbfdone
	ADDQ R8, DX
	VMULPS Z0, Z26, Z2
	VMULPS Z0, Z27, Z3
	VMOVUPS Z2, K1, (DX)
	VMOVUPS Z3, K2, 64(DX)
	CMPQ R9, $6
	JEQ  kbfdone
	ADDQ R8, DX
	VMULPS Z0, Z28, Z2
	VMULPS Z0, Z29, Z3
	VMOVUPS Z2, K1, (DX)
	VMOVUPS Z3, K2, 64(DX)
	CMPQ R9, $7
	JEQ  kbfdone
	ADDQ R8, DX
	VMULPS Z0, Z30, Z2
	VMULPS Z0, Z31, Z3
	VMOVUPS Z2, K1, (DX)
	VMOVUPS Z3, K2, 64(DX)
kbfdone:
	VZEROUPPER
	RET

// func dotBF16x16(acc, a, b *uint32): acc[i] = VDPBF16PS(acc[i], a[i], b[i]) for 16 lanes
// (tests check DotBF16 against the instruction with it).
TEXT ·dotBF16x16(SB), NOSPLIT, $0-24
	MOVQ acc+0(FP), AX
	MOVQ a+8(FP), BX
	MOVQ b+16(FP), CX
	VMOVUPS (AX), Z16
	VMOVUPS (BX), Z2
	VMOVUPS (CX), Z0
	VDPBF16PS_Z(0, 2, 16)
	VMOVUPS Z16, (AX)
	VZEROUPPER
	RET

// PAIRS16(off, kmask) rounds 16 lanes (those of kmask) of two packed rows to one row of bfloat16
// pairs: SI points at the even row, SI+R8 at the odd one, DI at the output. Z20 = 0x7FFF,
// Z21 = 1, Z22 = 0xFFFF0000, Z23 = 0x7FC0 (NaN, low half), Z24 = 0x7FC00000 (NaN, high half).
#define PAIRS16(off, kmask) \
	VMOVDQU32.Z off(SI), kmask, Z0; \
	VMOVDQU32.Z off(SI)(R8*1), kmask, Z1; \
	VPSRLD $16, Z0, Z2; \
	VPANDD Z21, Z2, Z2; \
	VPADDD Z20, Z2, Z2; \
	VPADDD Z0, Z2, Z2; \
	VPSRLD $16, Z2, Z2; \
	VCMPPS $3, Z0, Z0, K3; \
	VMOVDQA32 Z23, K3, Z2; \
	VPSRLD $16, Z1, Z3; \
	VPANDD Z21, Z3, Z3; \
	VPADDD Z20, Z3, Z3; \
	VPADDD Z1, Z3, Z3; \
	VPANDD Z22, Z3, Z3; \
	VCMPPS $3, Z1, Z1, K4; \
	VMOVDQA32 Z24, K4, Z3; \
	VPORD Z3, Z2, Z2; \
	VMOVDQU32 Z2, kmask, off(DI)

// func packPairsAVX512(dst *uint32, src *float32, w, kq int)
// For q < kq and j < w (w ≤ 32): dst[q*w+j] = bf16Pair(src[2q*w+j], src[(2q+1)*w+j]).
TEXT ·packPairsAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ w+16(FP), R9
	MOVQ kq+24(FP), CX
	MOVL $0x7fff, AX
	VPBROADCASTD AX, Z20
	MOVL $1, AX
	VPBROADCASTD AX, Z21
	MOVL $0xffff0000, AX
	VPBROADCASTD AX, Z22
	MOVL $0x7fc0, AX
	VPBROADCASTD AX, Z23
	MOVL $0x7fc00000, AX
	VPBROADCASTD AX, Z24
	// K1: lanes of the first 16 columns, K2: of the rest.
	MOVQ R9, BX
	CMPQ BX, $16
	JLE  pp1
	MOVQ $16, BX
pp1:
	MOVL $1, AX
	MOVQ BX, R10
	MOVQ R10, CX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	MOVQ R9, R10
	SUBQ $16, R10
	JGE  pp2
	XORQ R10, R10
pp2:
	MOVQ R10, CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K2
	MOVQ kq+24(FP), CX
	MOVQ R9, R8
	SHLQ $2, R8 // bytes per row
	TESTQ CX, CX
	JZ   ppdone
	CMPQ R9, $16
	JG   pploop2
pploop1:
	PAIRS16(0, K1)
	LEAQ (SI)(R8*2), SI
	ADDQ R8, DI
	DECQ CX
	JNZ  pploop1
	JMP  ppdone
pploop2:
	PAIRS16(0, K1)
	PAIRS16(64, K2)
	LEAQ (SI)(R8*2), SI
	ADDQ R8, DI
	DECQ CX
	JNZ  pploop2
ppdone:
	VZEROUPPER
	RET

// func roundBF16AVX512(dst, src *float32, n int)
// dst[i] = RoundBF16(src[i]) for i < n (n a multiple of 16): the rounding of
// PAIRS16's odd row, kept as a float32.
TEXT ·roundBF16AVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JZ   rbdone
	MOVL $0x7fff, AX
	VPBROADCASTD AX, Z20
	MOVL $1, AX
	VPBROADCASTD AX, Z21
	MOVL $0xffff0000, AX
	VPBROADCASTD AX, Z22
	MOVL $0x7fc00000, AX
	VPBROADCASTD AX, Z24
rbloop:
	VMOVUPS (SI), Z1
	VPSRLD $16, Z1, Z3
	VPANDD Z21, Z3, Z3
	VPADDD Z20, Z3, Z3
	VPADDD Z1, Z3, Z3
	VPANDD Z22, Z3, Z3
	VCMPPS $3, Z1, Z1, K4
	VMOVDQA32 Z24, K4, Z3
	VMOVUPS Z3, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  rbloop
rbdone:
	VZEROUPPER
	RET

// func packPairsRowsAVX512(dst *uint32, src *float32, kq, lds int)
// For q < kq and j < 32: dst[32q+j] = bf16Pair(src[2q·lds+j], src[(2q+1)·lds+j]):
// PAIRS16 on two rows lds floats apart, written as one 32-wide sliver row.
TEXT ·packPairsRowsAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ kq+16(FP), CX
	MOVQ lds+24(FP), R8
	SHLQ $2, R8 // bytes per source row
	MOVL $0x7fff, AX
	VPBROADCASTD AX, Z20
	MOVL $1, AX
	VPBROADCASTD AX, Z21
	MOVL $0xffff0000, AX
	VPBROADCASTD AX, Z22
	MOVL $0x7fc0, AX
	VPBROADCASTD AX, Z23
	MOVL $0x7fc00000, AX
	VPBROADCASTD AX, Z24
	MOVL $0xffff, AX
	KMOVW AX, K1
	TESTQ CX, CX
	JZ   prrdone
prrloop:
	PAIRS16(0, K1)
	PAIRS16(64, K1)
	LEAQ (SI)(R8*2), SI
	ADDQ $128, DI
	DECQ CX
	JNZ  prrloop
prrdone:
	VZEROUPPER
	RET
