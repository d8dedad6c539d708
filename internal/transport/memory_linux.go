package transport

import "syscall"

// TotalMemory returns the machine's memory in bytes, 0 when unknown.
func TotalMemory() int64 {
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}
