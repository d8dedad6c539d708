package handshake

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// requestWith returns rfcRequest with the header lines changed: a key maps to
// its new line ("" deletes the header), and extra lines are appended.
func requestWith(line string, set map[string]string, extra ...string) string {
	var b strings.Builder
	lines := strings.Split(strings.TrimSuffix(rfcRequest, "\r\n\r\n"), "\r\n")
	if line == "" {
		line = lines[0]
	}
	b.WriteString(line + "\r\n")
	for _, l := range lines[1:] {
		name, _, _ := strings.Cut(l, ":")
		if repl, ok := set[name]; ok {
			if repl != "" {
				b.WriteString(repl + "\r\n")
			}
			continue
		}
		b.WriteString(l + "\r\n")
	}
	for _, l := range extra {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

func check(t *testing.T, head string) (*Upgrade, *Rejection) {
	t.Helper()
	r, _, err := Parse([]byte(head))
	if err != nil {
		t.Fatalf("Parse(%q): %v", head, err)
	}
	return Check(r)
}

// TestCheck_RFC6455_4_2_1 walks the requirements a server checks in a
// client's opening handshake, one table row per rule.
func TestCheck_RFC6455_4_2_1(t *testing.T) {
	for _, c := range []struct {
		name   string
		head   string
		status int    // 0: accepted
		header string // extra response header a rejection must carry
	}{
		{name: "the RFC sample", head: rfcRequest},
		// 1. An HTTP/1.1 or higher GET request.
		{name: "POST", head: requestWith("POST /chat HTTP/1.1", nil), status: 405, header: "Allow: GET"},
		{name: "HEAD", head: requestWith("HEAD /chat HTTP/1.1", nil), status: 405, header: "Allow: GET"},
		{name: "lower-case get", head: requestWith("get /chat HTTP/1.1", nil), status: 405, header: "Allow: GET"},
		{name: "HTTP/1.0", head: requestWith("GET /chat HTTP/1.0", nil), status: 400},
		{name: "HTTP/0.9", head: requestWith("GET /chat HTTP/0.9", nil), status: 400},
		{name: "absolute URI", head: requestWith("GET ws://server.example.com/chat HTTP/1.1", nil)},
		// 2. A Host header field.
		{name: "no Host", head: requestWith("", map[string]string{"Host": ""}), status: 400},
		{name: "empty Host", head: requestWith("", map[string]string{"Host": "Host:"}), status: 400},
		{name: "two Host headers", head: requestWith("", nil, "Host: other.example.com"), status: 400},
		// 3. An Upgrade header field containing "websocket", case-insensitively.
		{name: "no Upgrade", head: requestWith("", map[string]string{"Upgrade": ""}), status: 400},
		{name: "Upgrade: WebSocket", head: requestWith("", map[string]string{"Upgrade": "Upgrade: WebSocket"})},
		{name: "Upgrade: h2c", head: requestWith("", map[string]string{"Upgrade": "Upgrade: h2c"}), status: 400},
		{name: "Upgrade list", head: requestWith("", map[string]string{"Upgrade": "Upgrade: h2c, websocket"})},
		{name: "Upgrade: websockets", head: requestWith("", map[string]string{"Upgrade": "Upgrade: websockets"}), status: 400},
		// 4. A Connection header field with the "Upgrade" token.
		{name: "no Connection", head: requestWith("", map[string]string{"Connection": ""}), status: 400},
		{name: "Connection: keep-alive, Upgrade", head: requestWith("", map[string]string{"Connection": "Connection: keep-alive, Upgrade"})},
		{name: "Connection: upgrade,keep-alive", head: requestWith("", map[string]string{"Connection": "Connection: upgrade,keep-alive"})},
		{name: "Connection in two headers", head: requestWith("", map[string]string{"Connection": "Connection: keep-alive"}, "Connection: Upgrade")},
		{name: "Connection: keep-alive", head: requestWith("", map[string]string{"Connection": "Connection: keep-alive"}), status: 400},
		{name: "Connection: Upgraded", head: requestWith("", map[string]string{"Connection": "Connection: Upgraded"}), status: 400},
		// 5. A Sec-WebSocket-Key of 16 bytes in base64.
		{name: "no key", head: requestWith("", map[string]string{"Sec-WebSocket-Key": ""}), status: 400},
		{name: "empty key", head: requestWith("", map[string]string{"Sec-WebSocket-Key": "Sec-WebSocket-Key:"}), status: 400},
		{name: "key of 15 bytes", head: requestWith("", map[string]string{"Sec-WebSocket-Key": "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j"}), status: 400},
		{name: "key of 17 bytes", head: requestWith("", map[string]string{"Sec-WebSocket-Key": "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQAA"}), status: 400},
		{name: "key not base64", head: requestWith("", map[string]string{"Sec-WebSocket-Key": "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ!!"}), status: 400},
		{name: "key without padding", head: requestWith("", map[string]string{"Sec-WebSocket-Key": "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ"}), status: 400},
		{name: "key in URL alphabet", head: requestWith("", map[string]string{"Sec-WebSocket-Key": "Sec-WebSocket-Key: ____________________-w=="}), status: 400},
		{name: "two keys", head: requestWith("", nil, "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA=="), status: 400},
		// 6. Sec-WebSocket-Version 13, else 426 with the versions served
		// (sections 4.2.2 and 4.4).
		{name: "version 8", head: requestWith("", map[string]string{"Sec-WebSocket-Version": "Sec-WebSocket-Version: 8"}), status: 426, header: "Sec-WebSocket-Version: 13"},
		{name: "version 14", head: requestWith("", map[string]string{"Sec-WebSocket-Version": "Sec-WebSocket-Version: 14"}), status: 426, header: "Sec-WebSocket-Version: 13"},
		{name: "no version", head: requestWith("", map[string]string{"Sec-WebSocket-Version": ""}), status: 426, header: "Sec-WebSocket-Version: 13"},
		{name: "version list", head: requestWith("", map[string]string{"Sec-WebSocket-Version": "Sec-WebSocket-Version: 13, 8"}), status: 426, header: "Sec-WebSocket-Version: 13"},
		{name: "two version headers", head: requestWith("", nil, "Sec-WebSocket-Version: 8"), status: 426, header: "Sec-WebSocket-Version: 13"},
		{name: "version 013", head: requestWith("", map[string]string{"Sec-WebSocket-Version": "Sec-WebSocket-Version: 013"}), status: 426, header: "Sec-WebSocket-Version: 13"},
		// Optional fields: subprotocols must be tokens.
		{name: "subprotocol not a token", head: requestWith("", map[string]string{"Sec-WebSocket-Protocol": "Sec-WebSocket-Protocol: chat, super chat"}), status: 400},
		{name: "subprotocol with slash", head: requestWith("", map[string]string{"Sec-WebSocket-Protocol": "Sec-WebSocket-Protocol: a/b"}), status: 400},
	} {
		up, rej := check(t, c.head)
		if c.status == 0 {
			if rej != nil {
				t.Errorf("%s: refused with %d %s", c.name, rej.Status, rej.Reason)
			} else if up.Key == "" || up.Host == "" {
				t.Errorf("%s: accepted without key or host: %+v", c.name, up)
			}
			continue
		}
		if rej == nil {
			t.Errorf("%s: accepted, want %d", c.name, c.status)
			continue
		}
		if rej.Status != c.status {
			t.Errorf("%s: status %d (%s), want %d", c.name, rej.Status, rej.Reason, c.status)
		}
		if c.header != "" && rej.Header != c.header {
			t.Errorf("%s: response header %q, want %q", c.name, rej.Header, c.header)
		}
	}
}

func TestCheck_Fields(t *testing.T) {
	up, rej := check(t, requestWith("", nil, "Sec-WebSocket-Protocol: v2.mqtt,, ", "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits", "Sec-WebSocket-Extensions: x-foo"))
	if rej != nil {
		t.Fatal(rej)
	}
	want := &Upgrade{
		Key:          "dGhlIHNhbXBsZSBub25jZQ==",
		Host:         "server.example.com",
		Origin:       "http://example.com",
		Protocols:    []string{"chat", "superchat", "v2.mqtt"},
		Extensions:   []string{"permessage-deflate; client_max_window_bits", "x-foo"},
		RawProtocols: "chat, superchat, v2.mqtt",
	}
	if !reflect.DeepEqual(up, want) {
		t.Fatalf("Upgrade\n%+v\nwant\n%+v", up, want)
	}
	// Drafts before RFC 6455 sent Sec-WebSocket-Origin.
	up, rej = check(t, requestWith("", map[string]string{"Origin": "Sec-WebSocket-Origin: http://old.example"}))
	if rej != nil || up.Origin != "http://old.example" {
		t.Fatalf("Sec-WebSocket-Origin: %+v %v", up, rej)
	}
}

// TestAcceptKey_RFC6455_4_2_2 uses the worked example of section 1.3.
func TestAcceptKey_RFC6455_4_2_2(t *testing.T) {
	if got := AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("AcceptKey = %q", got)
	}
}

// readResponse parses b with net/http, an independent HTTP/1.1 parser.
func readResponse(t *testing.T, b []byte) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
	if err != nil {
		t.Fatalf("response %q does not parse: %v", b, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestAppendAccept_RFC6455_4_2_2(t *testing.T) {
	b := AppendAccept(nil, "dGhlIHNhbXBsZSBub25jZQ==", "chat", "permessage-deflate; server_no_context_takeover", "X-A: 1\r\nbogus line\r\n\r\nX-B: 2")
	if !bytes.HasPrefix(b, []byte("HTTP/1.1 101 Switching Protocols\r\n")) || !bytes.HasSuffix(b, []byte("\r\n\r\n")) || bytes.Count(b, []byte("\r\n\r\n")) != 1 {
		t.Fatalf("response %q", b)
	}
	resp, _ := readResponse(t, b)
	for name, want := range map[string]string{
		"Upgrade":                  "websocket",
		"Connection":               "Upgrade",
		"Sec-WebSocket-Accept":     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
		"Sec-WebSocket-Protocol":   "chat",
		"Sec-WebSocket-Extensions": "permessage-deflate; server_no_context_takeover",
		"X-A":                      "1",
		"X-B":                      "2",
	} {
		if got := resp.Header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if len(resp.Header) != 7 {
		t.Errorf("headers %v", resp.Header)
	}
	// No subprotocol or extension selected: neither header is sent.
	resp, _ = readResponse(t, AppendAccept(nil, "dGhlIHNhbXBsZSBub25jZQ==", "", "", ""))
	if _, ok := resp.Header["Sec-Websocket-Protocol"]; ok {
		t.Error("empty Sec-WebSocket-Protocol sent")
	}
	if _, ok := resp.Header["Sec-Websocket-Extensions"]; ok {
		t.Error("empty Sec-WebSocket-Extensions sent")
	}
}

func TestAppendReject(t *testing.T) {
	for _, c := range []struct {
		status int
		extra  string
	}{{400, ""}, {426, "Sec-WebSocket-Version: 13"}, {405, "Allow: GET"}, {431, ""}, {599, ""}, {401, "WWW-Authenticate: Basic\nX-Y: z"}} {
		b := AppendReject(nil, c.status, "why", c.extra)
		resp, body := readResponse(t, b)
		if resp.StatusCode != c.status || !resp.Close {
			t.Errorf("%d: parsed as %d, Close %v", c.status, resp.StatusCode, resp.Close)
		}
		if !strings.Contains(string(body), "why") || int64(len(body)) != resp.ContentLength {
			t.Errorf("%d: body %q, Content-Length %d", c.status, body, resp.ContentLength)
		}
		for _, l := range strings.Split(c.extra, "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && resp.Header.Get(k) != strings.TrimSpace(v) {
				t.Errorf("%d: header %s = %q, want %q", c.status, k, resp.Header.Get(k), v)
			}
		}
	}
	if StatusText(431) != "Request Header Fields Too Large" || StatusText(599) != "Status" {
		t.Error("StatusText")
	}
}
