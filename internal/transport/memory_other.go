//go:build !linux

package transport

// TotalMemory returns 0 (unknown) on this system.
func TotalMemory() int64 { return 0 }
