package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The library's event loops live as long as the process.
		goleak.IgnoreAnyFunction("github.com/wsserver/wsserver.(*poller).loop"),
	)
}
