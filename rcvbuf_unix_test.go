//go:build unix

package wsserver

import "syscall"

// smallRcvBuf sets a 4 KiB receive buffer on a socket before it connects,
// which also turns off the kernel's receive buffer autotuning.
func smallRcvBuf(network, address string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
	})
	if err != nil {
		return err
	}
	return serr
}
