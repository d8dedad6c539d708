package wstest_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: the
// client's reader, the in-memory pipe's http.Server and the connections.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// A server's event loops stop about a second after their last connection.
		goleak.IgnoreAnyFunction("github.com/wsserver/wsserver/internal/transport.(*poller).loop"),
	)
}
