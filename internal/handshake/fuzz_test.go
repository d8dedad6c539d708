package handshake

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseHandshake parses arbitrary bytes as an opening handshake and
// checks what Parse promises: no panic; a request only once the head has
// ended, with exactly the head consumed; the same answer for the head alone;
// header fields that cannot smuggle lines; and a Check whose acceptance
// yields a 101 response net/http can read.
func FuzzParseHandshake(f *testing.F) {
	f.Add([]byte(rfcRequest))
	f.Add([]byte(rfcRequest + "\x81\x85\x01\x02\x03\x04hello"))
	f.Add([]byte(requestWith("", map[string]string{"Connection": "Connection: keep-alive, Upgrade"})))
	f.Add([]byte("GET / HTTP/1.1\r\nX-A: 1\r\n 2\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, buf []byte) {
		r, used, err := Parse(buf)
		end := bytes.Index(buf, []byte("\r\n\r\n"))
		switch {
		case err == nil:
			if end < 0 || used != end+4 || used > MaxRequestSize {
				t.Fatalf("request of %d bytes, head end at %d", used, end)
			}
			r2, used2, err2 := Parse(buf[:used])
			if err2 != nil || used2 != used || !reflect.DeepEqual(r, r2) {
				t.Fatalf("the head alone parses differently: %v", err2)
			}
			for _, h := range r.Headers {
				if !validToken(h.Name) || strings.ContainsAny(h.Value, "\r\n\x00") {
					t.Fatalf("header %q: %q", h.Name, h.Value)
				}
			}
			// Raw gives lines that parse back to the same fields.
			if len(r.Headers) > 0 {
				r3, _, err3 := Parse([]byte("GET / HTTP/1.1\r\n" + r.Raw() + "\r\n\r\n"))
				if err3 != nil || !reflect.DeepEqual(r3.Headers, r.Headers) {
					t.Fatalf("Raw() %q does not parse back: %v", r.Raw(), err3)
				}
			}
			up, rej := Check(r)
			if rej != nil {
				if rej.Status != 400 && rej.Status != 405 && rej.Status != 426 {
					t.Fatalf("Check refused with %d", rej.Status)
				}
				return
			}
			resp, _ := readResponse(t, AppendAccept(nil, up.Key, "", "", ""))
			if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != AcceptKey(up.Key) {
				t.Fatalf("101 response %v", resp)
			}
		case errors.Is(err, ErrIncomplete):
			if end >= 0 || len(buf) >= MaxRequestSize {
				t.Fatalf("ErrIncomplete for %d bytes with the head end at %d", len(buf), end)
			}
		default:
			var rej *Rejection
			if !errors.As(err, &rej) || rej.Status != 400 && rej.Status != 431 {
				t.Fatalf("error %v", err)
			}
			if rej.Status == 431 && (end >= 0 && end+4 <= MaxRequestSize) {
				t.Fatalf("431 for a head of %d bytes", end+4)
			}
		}
	})
}
