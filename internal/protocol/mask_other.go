//go:build !amd64 || purego || race

package protocol

// maskWide is 0: no vector code here (another architecture, a purego build,
// or a race build, whose detector would not see the assembly's writes).
var maskWide = 0

func maskVector(b *byte, n int, key uint32) { panic("protocol: maskVector without vector code") }
