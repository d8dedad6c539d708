package tlsconf

import (
	"strings"
	"testing"
)

// TestRecordParser_AnySplit_RFC8446_5_1 checks LogSSLPackets' record
// descriptions (RFC 8446 section 5.1 record headers) whatever the split.
func TestRecordParser_AnySplit_RFC8446_5_1(t *testing.T) {
	// Two plaintext records (a ClientHello, a fatal alert), a
	// ChangeCipherSpec, then an encrypted handshake record and application
	// data: the same descriptions whether the bytes come at once or one by
	// one.
	rec := func(typ byte, payload ...byte) []byte {
		return append([]byte{typ, 3, 3, byte(len(payload) >> 8), byte(len(payload))}, payload...)
	}
	var stream []byte
	stream = append(stream, rec(recordHandshake, 1, 0, 0, 2, 3, 3)...)
	stream = append(stream, rec(recordAlert, 2, 40)...)
	stream = append(stream, rec(recordChangeCipherSpec, 1)...)
	stream = append(stream, rec(recordHandshake, 0x99, 0x98, 0x97)...)
	stream = append(stream, rec(recordApplicationData)...)
	stream = append(stream, rec(recordApplicationData, make([]byte, 300)...)...)
	want := []string{
		"Handshake (ClientHello), record version TLS1.2, 6 bytes",
		"Alert (fatal, handshake_failure), record version TLS1.2, 2 bytes",
		"ChangeCipherSpec, record version TLS1.2, 1 bytes",
		"Handshake (encrypted), record version TLS1.2, 3 bytes",
		"ApplicationData, record version TLS1.2, 0 bytes",
		"ApplicationData, record version TLS1.2, 300 bytes",
	}
	for _, step := range []int{len(stream), 1, 2, 7} {
		var p RecordParser
		var got []string
		for i := 0; i < len(stream); i += step {
			p.Feed(stream[i:min(i+step, len(stream))], func(s string) { got = append(got, s) })
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("fed %d bytes at a time:\n%s\nwant:\n%s", step, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	var p RecordParser
	var got []string
	p.Feed([]byte("GET / HTTP/1.1\r\n"), func(s string) { got = append(got, s) })
	p.Feed(stream, func(s string) { got = append(got, s) })
	if len(got) != 1 || !strings.HasPrefix(got[0], "not a TLS record") {
		t.Fatalf("plaintext HTTP: %q", got)
	}
}
