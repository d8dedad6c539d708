package handshake

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// rfcRequest is the sample opening handshake of RFC 6455 section 1.2.
const rfcRequest = "GET /chat HTTP/1.1\r\n" +
	"Host: server.example.com\r\n" +
	"Upgrade: websocket\r\n" +
	"Connection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Origin: http://example.com\r\n" +
	"Sec-WebSocket-Protocol: chat, superchat\r\n" +
	"Sec-WebSocket-Version: 13\r\n" +
	"\r\n"

// wantStatus checks that err is a *Rejection with the given status.
func wantStatus(t *testing.T, what string, err error, status int) {
	t.Helper()
	var rej *Rejection
	if !errors.As(err, &rej) {
		t.Errorf("%s: error %v, want a %d rejection", what, err, status)
		return
	}
	if rej.Status != status {
		t.Errorf("%s: status %d (%s), want %d", what, rej.Status, rej.Reason, status)
	}
	if !strings.Contains(rej.Error(), rej.Reason) {
		t.Errorf("%s: Error() %q lacks the reason", what, rej.Error())
	}
}

func TestParse_RFC6455_1_2_SampleRequest(t *testing.T) {
	frame := []byte{0x81, 0x80, 1, 2, 3, 4}
	buf := append([]byte(rfcRequest), frame...)
	r, used, err := Parse(buf)
	if err != nil {
		t.Fatal(err)
	}
	if used != len(rfcRequest) || !bytes.Equal(buf[used:], frame) {
		t.Fatalf("used %d bytes, want %d: bytes after the head belong to the WebSocket stream", used, len(rfcRequest))
	}
	if r.Method != "GET" || r.URI != "/chat" || r.Proto != "HTTP/1.1" {
		t.Fatalf("request line parsed as %q %q %q", r.Method, r.URI, r.Proto)
	}
	if len(r.Headers) != 7 || r.Headers[0] != (Header{"Host", "server.example.com"}) {
		t.Fatalf("headers %q", r.Headers)
	}
	if r.Get("HOST") != "server.example.com" || r.Get("sec-websocket-key") != "dGhlIHNhbXBsZSBub25jZQ==" || r.Get("Missing") != "" {
		t.Fatal("Get is not case-insensitive")
	}
	if r.Count("upgrade") != 1 || r.Count("X") != 0 {
		t.Fatal("Count")
	}
	wantRaw := strings.TrimSuffix(strings.SplitN(rfcRequest, "\r\n", 2)[1], "\r\n\r\n")
	if r.Raw() != wantRaw {
		t.Fatalf("Raw() = %q, want %q", r.Raw(), wantRaw)
	}
}

func TestParse_Incomplete(t *testing.T) {
	for i := 0; i < len(rfcRequest); i++ {
		_, _, err := Parse([]byte(rfcRequest[:i]))
		if err != ErrIncomplete {
			t.Fatalf("first %d bytes: %v, want ErrIncomplete", i, err)
		}
	}
	if _, _, err := Parse([]byte(rfcRequest)); err != nil {
		t.Fatalf("whole: %v", err)
	}
}

// TestParse_RFC6585_431_TooLarge checks the bound on a request head:
// Request Header Fields Too Large (RFC 6585 section 5).
func TestParse_RFC6585_431_TooLarge(t *testing.T) {
	filler := func(n int) string { return "X-Filler: " + strings.Repeat("a", n) + "\r\n" }
	head := "GET / HTTP/1.1\r\nHost: h\r\n"
	// A head of exactly MaxRequestSize bytes is accepted.
	exact := head + filler(MaxRequestSize-len(head)-len(filler(0))-2) + "\r\n"
	if len(exact) != MaxRequestSize {
		t.Fatalf("test head is %d bytes", len(exact))
	}
	if _, used, err := Parse([]byte(exact)); err != nil || used != MaxRequestSize {
		t.Fatalf("head of MaxRequestSize bytes: used %d, %v", used, err)
	}
	_, _, err := Parse([]byte(head + filler(MaxRequestSize-len(head)-len(filler(0))-1) + "\r\n"))
	wantStatus(t, "head one byte over", err, 431)
	// Without an end in sight, the limit applies as soon as it is reached.
	_, _, err = Parse([]byte(head + filler(MaxRequestSize)))
	wantStatus(t, "unterminated head over the limit", err, 431)
	if _, _, err := Parse([]byte(head + filler(MaxRequestSize-200))); err != ErrIncomplete {
		t.Fatalf("unterminated head under the limit: %v", err)
	}
}

func TestParse_RFC7230_MalformedRequests(t *testing.T) {
	host := "Host: h\r\n"
	for _, c := range []struct{ name, head string }{
		{"empty request line", "\r\n" + host + "\r\n"},
		{"method only", "GET\r\n" + host + "\r\n"},
		{"no protocol", "GET /\r\n" + host + "\r\n"},
		{"double space", "GET  / HTTP/1.1\r\n" + host + "\r\n"},
		{"trailing space", "GET / HTTP/1.1 \r\n" + host + "\r\n"},
		{"space in target", "GET /a b HTTP/1.1\r\n" + host + "\r\n"},
		{"protocol not HTTP", "GET / FTP/1.1\r\n" + host + "\r\n"},
		{"lower-case protocol", "GET / http/1.1\r\n" + host + "\r\n"},
		{"protocol without version", "GET / HTTP/\r\n" + host + "\r\n"},
		{"protocol with sign", "GET / HTTP/+1.1\r\n" + host + "\r\n"},
		{"protocol with two-digit minor", "GET / HTTP/1.10\r\n" + host + "\r\n"},
		{"method not a token", "G(T / HTTP/1.1\r\n" + host + "\r\n"},
		{"control byte in target", "GET /\x01 HTTP/1.1\r\n" + host + "\r\n"},
		{"DEL in target", "GET /\x7f HTTP/1.1\r\n" + host + "\r\n"},
		{"tab in target", "GET /\t HTTP/1.1\r\n" + host + "\r\n"},
		// RFC 7230 section 3.2.4: no whitespace between name and colon, and
		// obsolete line folding is refused with 400.
		{"space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n"},
		{"tab before colon", "GET / HTTP/1.1\r\nHost\t: h\r\n\r\n"},
		{"empty header name", "GET / HTTP/1.1\r\n" + host + ": v\r\n\r\n"},
		{"header without colon", "GET / HTTP/1.1\r\n" + host + "NoColon\r\n\r\n"},
		{"non-token name", "GET / HTTP/1.1\r\n" + host + "X@Y: v\r\n\r\n"},
		{"non-ASCII name", "GET / HTTP/1.1\r\n" + host + "X-É: v\r\n\r\n"},
		{"obs-fold with space", "GET / HTTP/1.1\r\n" + host + "X-A: 1\r\n 2\r\n\r\n"},
		{"obs-fold with tab", "GET / HTTP/1.1\r\n" + host + "X-A: 1\r\n\t2\r\n\r\n"},
		{"fold before the first header", "GET / HTTP/1.1\r\n " + host + "\r\n"},
		// A bare CR or LF inside a line could hide a header from Get and
		// smuggle one past a proxy; NUL and other controls are not field
		// content either (RFC 7230 sections 3.2 and 3.5).
		{"bare LF in value", "GET / HTTP/1.1\r\nX-A: 1\nHost: evil\r\n" + host + "\r\n"},
		{"bare CR in value", "GET / HTTP/1.1\r\nX-A: 1\rHost: evil\r\n" + host + "\r\n"},
		{"NUL in value", "GET / HTTP/1.1\r\nX-A: 1\x002\r\n" + host + "\r\n"},
		{"escape in value", "GET / HTTP/1.1\r\nX-A: \x1b[31m\r\n" + host + "\r\n"},
		{"bare LF in request line", "GET /\nX HTTP/1.1\r\n" + host + "\r\n"},
	} {
		_, _, err := Parse([]byte(c.head))
		wantStatus(t, c.name, err, 400)
	}
}

func TestParse_RFC7230_FieldValues(t *testing.T) {
	r, _, err := Parse([]byte("GET / HTTP/1.1\r\nA:  spaced \t\r\nB:\r\nC:x\r\nD: tab\tinside\r\nE: caf\xc3\xa9 \x80\xff\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"A": "spaced", "B": "", "C": "x", "D": "tab\tinside", "E": "caf\xc3\xa9 \x80\xff"} {
		if got := r.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if r.Count("B") != 1 {
		t.Error("an empty header was dropped")
	}
}

func TestParse_Values(t *testing.T) {
	r, _, err := Parse([]byte("GET / HTTP/1.1\r\nX: 1\r\nY: 2\r\nx: 3\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if vs := r.Values("X"); len(vs) != 2 || vs[0] != "1" || vs[1] != "3" {
		t.Fatalf("Values = %q", vs)
	}
	if r.Values("Z") != nil {
		t.Fatal("Values of a missing header is not nil")
	}
}

func TestHasToken(t *testing.T) {
	for _, c := range []struct {
		values []string
		want   bool
	}{
		{[]string{"Upgrade"}, true},
		{[]string{"keep-alive, Upgrade"}, true},
		{[]string{"keep-alive,upgrade"}, true},
		{[]string{"keep-alive", "UPGRADE"}, true},
		{[]string{" Upgrade ,close"}, true},
		{[]string{"Upgraded"}, false},
		{[]string{"keep-alive"}, false},
		{[]string{"upgrade-insecure"}, false},
		{nil, false},
	} {
		if got := HasToken(c.values, "upgrade"); got != c.want {
			t.Errorf("HasToken(%q, upgrade) = %v", c.values, got)
		}
	}
}
