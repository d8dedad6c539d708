package wsserver

import (
	"github.com/wsserver/wsserver/internal/tlsconf"
)

// packetLog reports the TLS records of a connection through SSLStatus
// (LogSSLPackets). crypto/tls shows no packets, so it parses the record
// headers of the bytes that cross the socket: content type, version and
// length, and for records still in plaintext the handshake message type or
// the alert. Encrypted content stays opaque.
//
// Its messages come from the goroutine that reads or writes the socket,
// which may be inside another event handler of the connection, so they fire
// without the connection's event lock and, with DispatchQueued, without
// waiting for DoEvents. An SSLStatus handler must therefore not block, nor
// send on the connection with a Timeout (the send could wait for itself).
type packetLog struct {
	srv *Server
	id  int
	in  tlsconf.RecordParser // bytes received; used by the reading goroutine only
	out tlsconf.RecordParser // bytes sent; crypto/tls serializes writes
}

func (l *packetLog) received(p []byte) { l.in.Feed(p, l.emit("Received")) }

func (l *packetLog) sent(p []byte) { l.out.Feed(p, l.emit("Sent")) }

func (l *packetLog) emit(dir string) func(string) {
	return func(what string) { l.srv.fireSSLPacket(l.id, dir+" TLS record: "+what) }
}

// fireSSLPacket fires SSLStatus for a TLS record (see packetLog), and a
// debug Log entry.
func (s *Server) fireSSLPacket(id int, msg string) {
	s.logf(id, 3, "%s", msg)
	h := s.Events.OnSSLStatus
	if h == nil {
		return
	}
	ev := &SSLStatusEvent{ConnectionID: id, Message: msg}
	run := func() {
		if err := protect("SSLStatus", h, ev); err != nil {
			s.reportPanic(id, err.(*handlerPanic))
		}
	}
	if EventDispatch(s.dispatch.Load()) == DispatchQueued {
		s.queue.post(run, false)
		return
	}
	run()
}
