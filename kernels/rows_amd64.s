//go:build !noasm

#include "textflag.h"

// Row kernels of the convolution lowerings (rows.go). Every chunk is 16
// output lanes with its masks in tab; lanes outside the masks are neither
// loaded nor stored, so a source pointer may run past the image edge.

// s2even selects lanes 0, 2, …, 30 of two registers; s2lo / s2hi spread
// lanes 0–7 / 8–15 of a register to the even lanes (odd lanes: lane 16,
// taken from a zero register).
DATA s2even<>+0(SB)/4, $0
DATA s2even<>+4(SB)/4, $2
DATA s2even<>+8(SB)/4, $4
DATA s2even<>+12(SB)/4, $6
DATA s2even<>+16(SB)/4, $8
DATA s2even<>+20(SB)/4, $10
DATA s2even<>+24(SB)/4, $12
DATA s2even<>+28(SB)/4, $14
DATA s2even<>+32(SB)/4, $16
DATA s2even<>+36(SB)/4, $18
DATA s2even<>+40(SB)/4, $20
DATA s2even<>+44(SB)/4, $22
DATA s2even<>+48(SB)/4, $24
DATA s2even<>+52(SB)/4, $26
DATA s2even<>+56(SB)/4, $28
DATA s2even<>+60(SB)/4, $30
GLOBL s2even<>(SB), RODATA|NOPTR, $64
DATA s2lo<>+0(SB)/4, $0
DATA s2lo<>+4(SB)/4, $16
DATA s2lo<>+8(SB)/4, $1
DATA s2lo<>+12(SB)/4, $16
DATA s2lo<>+16(SB)/4, $2
DATA s2lo<>+20(SB)/4, $16
DATA s2lo<>+24(SB)/4, $3
DATA s2lo<>+28(SB)/4, $16
DATA s2lo<>+32(SB)/4, $4
DATA s2lo<>+36(SB)/4, $16
DATA s2lo<>+40(SB)/4, $5
DATA s2lo<>+44(SB)/4, $16
DATA s2lo<>+48(SB)/4, $6
DATA s2lo<>+52(SB)/4, $16
DATA s2lo<>+56(SB)/4, $7
DATA s2lo<>+60(SB)/4, $16
GLOBL s2lo<>(SB), RODATA|NOPTR, $64
DATA s2hi<>+0(SB)/4, $8
DATA s2hi<>+4(SB)/4, $16
DATA s2hi<>+8(SB)/4, $9
DATA s2hi<>+12(SB)/4, $16
DATA s2hi<>+16(SB)/4, $10
DATA s2hi<>+20(SB)/4, $16
DATA s2hi<>+24(SB)/4, $11
DATA s2hi<>+28(SB)/4, $16
DATA s2hi<>+32(SB)/4, $12
DATA s2hi<>+36(SB)/4, $16
DATA s2hi<>+40(SB)/4, $13
DATA s2hi<>+44(SB)/4, $16
DATA s2hi<>+48(SB)/4, $14
DATA s2hi<>+52(SB)/4, $16
DATA s2hi<>+56(SB)/4, $15
DATA s2hi<>+60(SB)/4, $16
GLOBL s2hi<>(SB), RODATA|NOPTR, $64

// The kernels walk planes × rows rows: after each plane's rows, dpadj and
// spadj (bytes) move the pointers to the next plane's first row.

// func shiftRowsAVX512(dst *float32, doff int, src *float32, soff, rows, ds, ss int, tab *uint32, chunks, planes, dpadj, spadj int)
TEXT ·shiftRowsAVX512(SB), NOSPLIT, $0-96
	MOVQ dst+0(FP), DI
	MOVQ doff+8(FP), AX
	LEAQ (DI)(AX*4), DI
	MOVQ src+16(FP), SI
	MOVQ soff+24(FP), AX
	LEAQ (SI)(AX*4), SI
	MOVQ rows+32(FP), R8
	MOVQ ds+40(FP), R9
	SHLQ $2, R9
	MOVQ ss+48(FP), R10
	SHLQ $2, R10
	MOVQ tab+56(FP), R11
	MOVQ chunks+64(FP), R12
	MOVQ planes+72(FP), DX
	CMPQ R12, $2
	JGT  shplane
	// One or two chunks: masks stay in K1–K4 for all rows.
	MOVL (R11), AX
	KMOVW AX, K1
	MOVL 4(R11), AX
	KMOVW AX, K2
	KXORW K3, K3, K3
	KXORW K4, K4, K4
	CMPQ R12, $2
	JLT  sh2plane
	MOVL 8(R11), AX
	KMOVW AX, K3
	MOVL 12(R11), AX
	KMOVW AX, K4
sh2plane:
	MOVQ rows+32(FP), R8
sh2row:
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z 64(SI), K3, Z1
	VMOVUPS Z0, K2, (DI)
	VMOVUPS Z1, K4, 64(DI)
	ADDQ R9, DI
	ADDQ R10, SI
	DECQ R8
	JNZ  sh2row
	ADDQ dpadj+80(FP), DI
	ADDQ spadj+88(FP), SI
	DECQ DX
	JNZ  sh2plane
	VZEROUPPER
	RET
shplane:
	MOVQ rows+32(FP), R8
shrow:
	XORQ BX, BX
	MOVQ DI, R13
	MOVQ SI, R14
shchunk:
	MOVL (R11)(BX*8), AX
	KMOVW AX, K1
	MOVL 4(R11)(BX*8), AX
	KMOVW AX, K2
	VMOVUPS.Z (R14), K1, Z0
	VMOVUPS Z0, K2, (R13)
	ADDQ $64, R13
	ADDQ $64, R14
	INCQ BX
	CMPQ BX, R12
	JLT  shchunk
	ADDQ R9, DI
	ADDQ R10, SI
	DECQ R8
	JNZ  shrow
	ADDQ dpadj+80(FP), DI
	ADDQ spadj+88(FP), SI
	DECQ DX
	JNZ  shplane
	VZEROUPPER
	RET

// func stride2RowsAVX512(dst *float32, doff int, src *float32, soff, rows, ds, ss int, tab *uint32, chunks, planes, dpadj, spadj int)
TEXT ·stride2RowsAVX512(SB), NOSPLIT, $0-96
	MOVQ dst+0(FP), DI
	MOVQ doff+8(FP), AX
	LEAQ (DI)(AX*4), DI
	MOVQ src+16(FP), SI
	MOVQ soff+24(FP), AX
	LEAQ (SI)(AX*4), SI
	MOVQ rows+32(FP), R8
	MOVQ ds+40(FP), R9
	SHLQ $2, R9
	MOVQ ss+48(FP), R10
	SHLQ $2, R10
	MOVQ tab+56(FP), R11
	MOVQ chunks+64(FP), R12
	VMOVDQU32 s2even<>(SB), Z5
	MOVQ planes+72(FP), DX
s2plane:
	MOVQ rows+32(FP), R8
s2row:
	MOVQ R11, CX
	MOVQ R12, BX
	MOVQ DI, R13
	MOVQ SI, R14
s2chunk:
	MOVL (CX), AX
	KMOVW AX, K1
	MOVL 4(CX), AX
	KMOVW AX, K2
	MOVL 8(CX), AX
	KMOVW AX, K3
	VMOVUPS.Z (R14), K1, Z0
	VMOVUPS.Z 64(R14), K2, Z1
	VPERMT2PS Z1, Z5, Z0
	VMOVUPS Z0, K3, (R13)
	ADDQ $12, CX
	ADDQ $64, R13
	ADDQ $128, R14
	DECQ BX
	JNZ  s2chunk
	ADDQ R9, DI
	ADDQ R10, SI
	DECQ R8
	JNZ  s2row
	ADDQ dpadj+80(FP), DI
	ADDQ spadj+88(FP), SI
	DECQ DX
	JNZ  s2plane
	VZEROUPPER
	RET

// func stride2AddRowsAVX512(dst *float32, doff int, src *float32, soff, rows, ds, ss int, tab *uint32, chunks, planes, dpadj, spadj int)
TEXT ·stride2AddRowsAVX512(SB), NOSPLIT, $0-96
	MOVQ dst+0(FP), DI
	MOVQ doff+8(FP), AX
	LEAQ (DI)(AX*4), DI
	MOVQ src+16(FP), SI
	MOVQ soff+24(FP), AX
	LEAQ (SI)(AX*4), SI
	MOVQ rows+32(FP), R8
	MOVQ ds+40(FP), R9
	SHLQ $2, R9
	MOVQ ss+48(FP), R10
	SHLQ $2, R10
	MOVQ tab+56(FP), R11
	MOVQ chunks+64(FP), R12
	VMOVDQU32 s2lo<>(SB), Z5
	VMOVDQU32 s2hi<>(SB), Z6
	VPXORD Z3, Z3, Z3
	MOVQ planes+72(FP), DX
a2plane:
	MOVQ rows+32(FP), R8
a2row:
	MOVQ R11, CX
	MOVQ R12, BX
	MOVQ DI, R13
	MOVQ SI, R14
a2chunk:
	MOVL (CX), AX
	KMOVW AX, K1
	MOVL 4(CX), AX
	KMOVW AX, K2
	MOVL 8(CX), AX
	KMOVW AX, K3
	VMOVUPS.Z (R14), K3, Z2
	VMOVAPS Z2, Z0
	VPERMT2PS Z3, Z5, Z0
	VMOVAPS Z2, Z1
	VPERMT2PS Z3, Z6, Z1
	VMOVUPS.Z (R13), K1, Z7
	VADDPS Z0, Z7, Z7
	VMOVUPS Z7, K1, (R13)
	VMOVUPS.Z 64(R13), K2, Z8
	VADDPS Z1, Z8, Z8
	VMOVUPS Z8, K2, 64(R13)
	ADDQ $12, CX
	ADDQ $128, R13
	ADDQ $64, R14
	DECQ BX
	JNZ  a2chunk
	ADDQ R9, DI
	ADDQ R10, SI
	DECQ R8
	JNZ  a2row
	ADDQ dpadj+80(FP), DI
	ADDQ spadj+88(FP), SI
	DECQ DX
	JNZ  a2plane
	VZEROUPPER
	RET
