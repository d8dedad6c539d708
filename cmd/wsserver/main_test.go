package main

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind.
func TestMain(m *testing.M) {
	if os.Getenv(runAsCommand) == "1" { // a test started this binary as the command
		main()
	}
	goleak.VerifyTestMain(m,
		// The library's event loops stop about a second after their last connection.
		goleak.IgnoreAnyFunction("github.com/wsserver/wsserver/internal/transport.(*poller).loop"),
	)
}
