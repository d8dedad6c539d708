//go:build !linux

package main

// waitExit returns at once where there are no pidfds: the caller's Wait
// waits.
func waitExit(pid int) {}
