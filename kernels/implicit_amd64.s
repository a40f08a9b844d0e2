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
