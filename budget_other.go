//go:build !linux

package wsserver

// totalRAM returns 0 (unknown): the memory budget's default then does not
// depend on the machine's memory.
func totalRAM() int64 { return 0 }
