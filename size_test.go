package wsserver

import (
	"testing"
	"unsafe"
)

// TestConnection_IdleSize keeps the struct every idle connection holds
// within its size class (issue 10: idle memory per connection no higher
// than before the transport seam, whose raw socket, 64 bytes, is now an
// object of its own). A field added must find room in the padding, or
// make room elsewhere: the 416-byte class would cost every idle
// connection 32 bytes.
func TestConnection_IdleSize(t *testing.T) {
	if n := unsafe.Sizeof(Connection{}); n > 384 {
		t.Errorf("Connection is %d bytes, over the 384-byte size class", n)
	}
}
