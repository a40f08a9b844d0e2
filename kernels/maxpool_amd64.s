//go:build !noasm

#include "textflag.h"

// FM(acc, v): acc = firstMax(acc, v). VMAXPS returns its second source
// (acc) unless v > acc, so ties and a NaN acc keep acc; a NaN v after a
// number is then merged in under K2. Z3 is scratch.
#define FM(acc, v) \
	VMAXPS acc, v, Z3; \
	VCMPPS $3, v, v, K2; \
	VCMPPS $7, acc, acc, K3; \
	KANDW K2, K3, K2; \
	VMOVAPS v, K2, Z3; \
	VMOVAPS Z3, acc

// func firstMax3AVX512(dst, a, b, c *float32, n int)
TEXT ·firstMax3AVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ c+24(FP), R8
	MOVQ n+32(FP), CX
fm16:
	CMPQ CX, $16
	JLT  fmtail
	VMOVUPS (SI), Z0
	VMOVUPS (DX), Z1
	VMOVUPS (R8), Z2
	FM(Z0, Z1)
	FM(Z0, Z2)
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, R8
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  fm16
fmtail:
	TESTQ CX, CX
	JZ   fmdone
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (DX), K1, Z1
	VMOVUPS.Z (R8), K1, Z2
	FM(Z0, Z1)
	FM(Z0, Z2)
	VMOVUPS Z0, K1, (DI)
fmdone:
	VZEROUPPER
	RET
