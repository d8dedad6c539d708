//go:build linux || darwin

package transport

import "golang.org/x/sys/unix"

// sysWritev writes vecs to a socket's descriptor with one writev(2).
func sysWritev(fd uintptr, vecs [][]byte) (int, error) { return unix.Writev(int(fd), vecs) }
