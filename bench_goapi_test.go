package wsserver

import (
	"strconv"
	"testing"

	"github.com/wsserver/wsserver/internal/protocol"
)

// BenchmarkEchoOnMessage is BenchmarkEcho with OnMessage (issue 14) instead
// of DataIn with BufferMessage: whole messages the Go-native way. Run with
// -benchmem: the steady state allocates nothing per message.
func BenchmarkEchoOnMessage(b *testing.B) {
	for _, loop := range []string{"False", "True"} {
		for _, size := range []int{16, 1024, 64 << 10} {
			b.Run("EventLoop="+loop+"/"+strconv.Itoa(size), func(b *testing.B) {
				s := New()
				s.Configure(WithTcpNoDelay(true), WithEventLoop(loop == "True"))
				s.Events.OnMessage = func(e *MessageEvent) { s.SendMessage(e.ConnectionID, e.DataFormat, e.Data) }
				url := startServer(b, s)
				nc, br := benchDial(b, url, "")
				defer nc.Close()
				frame := maskedFrame(protocol.OpBinary, make([]byte, size))
				buf := make([]byte, frameBytes(size, defaultMaxFrameSize))
				echoLoop(b, nc, br, frame, buf, size)
			})
		}
	}
}
