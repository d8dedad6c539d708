package wsserver

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: every
// connection, flusher and timer a test starts must end with it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// A server's event loops stop about a second after their last
		// connection (internal/transport): one may still be stopping.
		goleak.IgnoreAnyFunction("github.com/wsserver/wsserver/internal/transport.(*poller).loop"),
	)
}
