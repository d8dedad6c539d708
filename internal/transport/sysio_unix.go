//go:build unix

package transport

import "syscall"

// rawIO: reads and writes may go through a socket's syscall.RawConn with
// read(2) and writev(2), sparing a buffer while a connection waits.
const rawIO = true

// sysRead reads a socket's descriptor once, without waiting.
func sysRead(fd uintptr, b []byte) (int, error) { return syscall.Read(int(fd), b) }

// sysWriteFD writes a socket's descriptor once, without waiting.
func sysWriteFD(fd int, b []byte) (int, error) { return syscall.Write(fd, b) }

// sysShutdown shuts both directions of a socket down.
func sysShutdown(fd int) { syscall.Shutdown(fd, syscall.SHUT_RDWR) }
