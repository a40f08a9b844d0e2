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
