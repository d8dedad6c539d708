package transport

import (
	"os"
	"syscall"
	"time"
)

// A blocking send (Timeout > 0) fails when no byte has moved for Timeout:
// the deadline runs from the last write that moved bytes, not from the
// start of a write that may have moved most of its bytes long ago.

// rawWriter is the part of syscall.RawConn a progress write uses.
type rawWriter interface {
	Write(f func(fd uintptr) bool) error
}

// progressWrite writes buf to a socket, waiting for room while the socket
// is full, with the deadline (set through setDeadline) always timeout after
// the last write that moved bytes; progress is called after each. stop is
// checked before each wait: when it reports true, the write gives up with
// os.ErrDeadlineExceeded. It returns the bytes written and the error that
// ended the write: os.ErrDeadlineExceeded when timeout passed without
// progress.
func progressWrite(rc rawWriter, setDeadline func(time.Time) error, now func() time.Time, buf []byte, timeout time.Duration, stop func() bool, progress func()) (int, error) {
	done := 0
	var n int
	var werr error
	write := func(fd uintptr) bool {
		n, werr = sysWriteFD(int(fd), buf[done:])
		return werr != syscall.EAGAIN // EAGAIN: wait until writable, or the deadline
	}
	for done < len(buf) {
		setDeadline(now().Add(timeout))
		if stop() {
			return done, os.ErrDeadlineExceeded
		}
		n, werr = 0, nil
		err := rc.Write(write)
		if n > 0 {
			done += n
			progress()
		}
		if err != nil {
			return done, err
		}
		if werr != nil && werr != syscall.EINTR {
			return done, os.NewSyscallError("write", werr)
		}
	}
	return done, nil
}
