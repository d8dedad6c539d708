//go:build !amd64

package protocol

// maskWide is 0: there is no vector code for this architecture.
var maskWide = 0

func maskVector(b *byte, n int, key uint32) {}
