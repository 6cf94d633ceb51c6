//go:build amd64 && !purego

#include "textflag.h"

// func classifyAVX2(p *byte, blocks int, q, bs *uint64) uint64
TEXT ·classifyAVX2(SB), NOSPLIT, $0-40
	MOVQ p+0(FP), SI
	MOVQ blocks+8(FP), CX
	MOVQ q+16(FP), DI
	MOVQ bs+24(FP), R8

	MOVL $0x22, AX
	MOVD AX, X10
	VPBROADCASTB X10, Y10 // quotes
	MOVL $0x5c, AX
	MOVD AX, X11
	VPBROADCASTB X11, Y11 // backslashes
	MOVL $0x1f, AX
	MOVD AX, X12
	VPBROADCASTB X12, Y12 // the largest control character
	VPXOR Y13, Y13, Y13   // controls seen
	VPXOR Y14, Y14, Y14   // high bytes seen

loop:
	TESTQ CX, CX
	JZ done
	VMOVDQU (SI), Y0
	VMOVDQU 32(SI), Y1

	VPCMPEQB Y0, Y10, Y2
	VPCMPEQB Y1, Y10, Y3
	VPMOVMSKB Y2, AX
	VPMOVMSKB Y3, DX
	SHLQ $32, DX
	ORQ DX, AX
	MOVQ AX, (DI)

	VPCMPEQB Y0, Y11, Y2
	VPCMPEQB Y1, Y11, Y3
	VPMOVMSKB Y2, AX
	VPMOVMSKB Y3, DX
	SHLQ $32, DX
	ORQ DX, AX
	MOVQ AX, (R8)

	// x <= 0x1f (unsigned) exactly when min(x, 0x1f) == x.
	VPMINUB Y0, Y12, Y2
	VPCMPEQB Y0, Y2, Y2
	VPMINUB Y1, Y12, Y3
	VPCMPEQB Y1, Y3, Y3
	VPOR Y2, Y13, Y13
	VPOR Y3, Y13, Y13
	VPOR Y0, Y14, Y14
	VPOR Y1, Y14, Y14

	ADDQ $64, SI
	ADDQ $8, DI
	ADDQ $8, R8
	DECQ CX
	JMP loop

done:
	XORQ BX, BX
	VPMOVMSKB Y13, AX
	TESTL AX, AX
	JZ noctl
	ORQ $1, BX
noctl:
	VPMOVMSKB Y14, AX
	TESTL AX, AX
	JZ out
	ORQ $2, BX
out:
	VZEROUPPER
	MOVQ BX, ret+32(FP)
	RET
