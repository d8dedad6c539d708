//go:build amd64 && !purego && !race

#include "textflag.h"

// func maskAVX2(b *byte, n int, key uint32)
// XORs n bytes at b (n a multiple of 128) with key repeated.
TEXT ·maskAVX2(SB), NOSPLIT, $0-20
	MOVQ b+0(FP), DI
	MOVQ n+8(FP), CX
	MOVL key+16(FP), AX
	MOVQ AX, X0
	VPBROADCASTD X0, Y0

loop:
	CMPQ CX, $128
	JL   done
	VPXOR   (DI), Y0, Y1
	VPXOR   32(DI), Y0, Y2
	VPXOR   64(DI), Y0, Y3
	VPXOR   96(DI), Y0, Y4
	VMOVDQU Y1, (DI)
	VMOVDQU Y2, 32(DI)
	VMOVDQU Y3, 64(DI)
	VMOVDQU Y4, 96(DI)
	ADDQ    $128, DI
	SUBQ    $128, CX
	JMP     loop

done:
	VZEROUPPER
	RET
