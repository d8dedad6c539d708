//go:build !unix

package transport

import "errors"

// rawIO is off: here connections read and write through their net.Conn
// only, never through descriptors.
const rawIO = false

// sysRead is never called without rawIO.
func sysRead(uintptr, []byte) (int, error) { return 0, errors.ErrUnsupported }

// sysWriteFD is never called without rawIO.
func sysWriteFD(int, []byte) (int, error) { return 0, errors.ErrUnsupported }

// sysShutdown is never called without rawIO.
func sysShutdown(int) {}
