//go:build !unix

package main

import (
	"os"
	"os/exec"
	"syscall"
)

// ownProcessGroup: process groups and signals are Unix's; here the program
// alone is ended, and what it started may outlive it.
func ownProcessGroup(*exec.Cmd) {}

// signalGroup ends the program: without Unix signals, SIGTERM cannot ask it
// to finish, so both SIGTERM and SIGKILL kill it.
func signalGroup(p *os.Process, _ syscall.Signal) {
	p.Kill()
}
