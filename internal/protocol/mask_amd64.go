//go:build amd64 && !purego && !race

package protocol

import "golang.org/x/sys/cpu"

// The race detector does not see memory that assembly touches, so race
// builds (and purego ones) use the portable loop only.

// maskWide is the width maskVector works in; 0 when the CPU lacks AVX2.
var maskWide = func() int {
	if cpu.X86.HasAVX2 {
		return 128
	}
	return 0
}()

// maskVector XORs n bytes at b, n a multiple of maskWide, with key repeated
// (its first byte at b), 128 bytes per step with AVX2.
func maskVector(b *byte, n int, key uint32) { maskAVX2(b, n, key) }

//go:noescape
func maskAVX2(b *byte, n int, key uint32)
