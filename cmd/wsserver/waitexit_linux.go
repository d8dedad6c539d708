package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// waitExit waits until process pid has exited, without reaping it, in the
// runtime's network poller: a pidfd becomes readable when its process
// exits. A program waited for so holds no OS thread, where cmd.Wait alone
// blocks one in wait4 for the program's whole life, and the runtime keeps
// every thread it ever made (200 programs at once left 208 threads behind).
// Where pidfds are missing (Linux before 5.3) it returns at once, and the
// caller's Wait blocks as before.
func waitExit(pid int) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Read(func(fd uintptr) bool {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PIDFD, int(fd), &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		return err != nil || info.Signo != 0 // Signo 0: still running (WNOHANG)
	})
}
