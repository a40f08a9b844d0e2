//go:build !noasm

#include "textflag.h"

// func packSame32AVX512(dst, x *float32, q0 int, rowOff, rowKK *int32, masks *uint32, kc, two, delta int)
// Lanes outside the masks are not loaded (the source may run past the
// image there) and are stored as zeros.
TEXT ·packSame32AVX512(SB), NOSPLIT, $0-72
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ q0+16(FP), R8
	LEAQ (SI)(R8*4), SI
	MOVQ rowOff+24(FP), R9
	MOVQ rowKK+32(FP), R10
	MOVQ masks+40(FP), R11
	MOVQ kc+48(FP), CX
	MOVQ delta+64(FP), R12
	MOVQ two+56(FP), R13
	TESTQ R13, R13
	JNZ  ps2loop
psloop:
	MOVLQSX (R9), AX
	MOVL (R10), BX
	MOVL (R11)(BX*8), DX
	KMOVW DX, K1
	SHRL $16, DX
	KMOVW DX, K2
	VMOVUPS.Z (SI)(AX*4), K1, Z0
	VMOVUPS.Z 64(SI)(AX*4), K2, Z1
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	ADDQ $4, R9
	ADDQ $4, R10
	ADDQ $128, DI
	DECQ CX
	JNZ  psloop
	VZEROUPPER
	RET
ps2loop:
	MOVLQSX (R9), AX
	LEAQ (SI)(AX*4), R14
	MOVL (R10), BX
	MOVL (R11)(BX*8), DX
	KMOVW DX, K1
	SHRL $16, DX
	KMOVW DX, K2
	MOVL 4(R11)(BX*8), DX
	KMOVW DX, K3
	SHRL $16, DX
	KMOVW DX, K4
	VMOVUPS.Z (R14), K1, Z0
	VMOVUPS.Z 64(R14), K2, Z1
	VMOVUPS (R14)(R12*1), K3, Z0
	VMOVUPS 64(R14)(R12*1), K4, Z1
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	ADDQ $4, R9
	ADDQ $4, R10
	ADDQ $128, DI
	DECQ CX
	JNZ  ps2loop
	VZEROUPPER
	RET

// PAIRZ(ze, zo) rounds the 16 lanes of ze (even row) and zo (odd row) to
// bfloat16 pairs in Z2 (ze's in the low halves), as packPairsAVX512 does:
// Z20 = 0x7FFF, Z21 = 1, Z22 = 0xFFFF0000, Z23 = 0x7FC0, Z24 = 0x7FC00000;
// Z3, K5 and K6 are scratch.
#define PAIRZ(ze, zo) \
	VPSRLD $16, ze, Z2; \
	VPANDD Z21, Z2, Z2; \
	VPADDD Z20, Z2, Z2; \
	VPADDD ze, Z2, Z2; \
	VPSRLD $16, Z2, Z2; \
	VCMPPS $3, ze, ze, K5; \
	VMOVDQA32 Z23, K5, Z2; \
	VPSRLD $16, zo, Z3; \
	VPANDD Z21, Z3, Z3; \
	VPADDD Z20, Z3, Z3; \
	VPADDD zo, Z3, Z3; \
	VPANDD Z22, Z3, Z3; \
	VCMPPS $3, zo, zo, K6; \
	VMOVDQA32 Z24, K6, Z3; \
	VPORD Z3, Z2, Z2

// LOADROW(r, z0, z1) loads lowered row r (its rowOff and rowKK at
// r·4(R9), r·4(R10)) of the sliver: 32 lanes into z0, z1 under the first
// image's masks, merged with the next image's (delta R12 bytes further)
// when R13 != 0.
#define LOADROW(r, z0, z1, lbl) \
	MOVLQSX r*4(R9), AX; \
	LEAQ (SI)(AX*4), R14; \
	MOVL r*4(R10), BX; \
	MOVL (R11)(BX*8), DX; \
	KMOVW DX, K1; \
	SHRL $16, DX; \
	KMOVW DX, K2; \
	VMOVUPS.Z (R14), K1, z0; \
	VMOVUPS.Z 64(R14), K2, z1; \
	TESTQ R13, R13; \
	JZ lbl; \
	MOVL 4(R11)(BX*8), DX; \
	KMOVW DX, K3; \
	SHRL $16, DX; \
	KMOVW DX, K4; \
	VMOVUPS (R14)(R12*1), K3, z0; \
	VMOVUPS 64(R14)(R12*1), K4, z1; \
lbl:

// func packSame32PairsAVX512(dst *uint32, x *float32, q0 int, rowOff, rowKK *int32, masks *uint32, kq, two, delta int)
// packSame32AVX512 for 2·kq rows, rounded to bfloat16 pairs on the way: for
// q < kq, dst[32q : 32q+32] = bf16Pair(row 2q, row 2q+1) lane by lane.
TEXT ·packSame32PairsAVX512(SB), NOSPLIT, $0-72
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ q0+16(FP), R8
	LEAQ (SI)(R8*4), SI
	MOVQ rowOff+24(FP), R9
	MOVQ rowKK+32(FP), R10
	MOVQ masks+40(FP), R11
	MOVQ kq+48(FP), CX
	MOVQ two+56(FP), R13
	MOVQ delta+64(FP), R12
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
	TESTQ CX, CX
	JZ   pqdone
pqloop:
	LOADROW(0, Z0, Z1, pqeven)
	LOADROW(1, Z4, Z5, pqodd)
	PAIRZ(Z0, Z4)
	VMOVDQU32 Z2, (DI)
	PAIRZ(Z1, Z5)
	VMOVDQU32 Z2, 64(DI)
	ADDQ $8, R9
	ADDQ $8, R10
	ADDQ $128, DI
	DECQ CX
	JNZ  pqloop
pqdone:
	VZEROUPPER
	RET

// func packSame32PairsRoundedAVX512(dst *uint32, x *float32, q0 int, rowOff, rowKK *int32, masks *uint32, kq, two, delta int)
// packSame32PairsAVX512 for images already rounded (RoundBF16To: low halves
// zero): each pair is the even row's upper half shifted down, or'ed with the
// odd row as it is.
TEXT ·packSame32PairsRoundedAVX512(SB), NOSPLIT, $0-72
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ q0+16(FP), R8
	LEAQ (SI)(R8*4), SI
	MOVQ rowOff+24(FP), R9
	MOVQ rowKK+32(FP), R10
	MOVQ masks+40(FP), R11
	MOVQ kq+48(FP), CX
	MOVQ two+56(FP), R13
	MOVQ delta+64(FP), R12
	TESTQ CX, CX
	JZ   prdone
prloop:
	LOADROW(0, Z0, Z1, preven)
	LOADROW(1, Z4, Z5, prodd)
	VPSRLD $16, Z0, Z2
	VPORD Z4, Z2, Z2
	VMOVDQU32 Z2, (DI)
	VPSRLD $16, Z1, Z3
	VPORD Z5, Z3, Z3
	VMOVDQU32 Z3, 64(DI)
	ADDQ $8, R9
	ADDQ $8, R10
	ADDQ $128, DI
	DECQ CX
	JNZ  prloop
prdone:
	VZEROUPPER
	RET
