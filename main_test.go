package wsserver

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: every
// connection, flusher and timer a test starts must end with it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The event loops live as long as the process (eventloop.go).
		goleak.IgnoreAnyFunction("github.com/wsserver/wsserver.(*poller).loop"),
	)
}
