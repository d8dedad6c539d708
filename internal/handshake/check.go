package handshake

import (
	"crypto/sha1"
	"encoding/base64"
	"strconv"
	"strings"
)

// Rejection is a request the server refuses, with the HTTP status and extra
// response headers that say why.
type Rejection struct {
	Status int
	Reason string
	Header string // extra header lines, CRLF-separated, without a trailing CRLF
}

func (r *Rejection) Error() string {
	return "handshake: " + strconv.Itoa(r.Status) + " " + r.Reason
}

func reject(status int, reason string) *Rejection {
	return &Rejection{Status: status, Reason: reason}
}

// Upgrade is a valid WebSocket opening handshake.
type Upgrade struct {
	Key          string   // Sec-WebSocket-Key
	Host         string   // Host
	Origin       string   // Origin (or Sec-WebSocket-Origin of old drafts)
	Protocols    []string // Sec-WebSocket-Protocol tokens, in order
	Extensions   []string // Sec-WebSocket-Extensions header values
	RawProtocols string   // the Sec-WebSocket-Protocol values joined by ", "
}

// Check validates r as a WebSocket upgrade (RFC 6455 section 4.2.1): a GET
// of HTTP/1.1 or later with a Host, "Upgrade: websocket", a Connection header
// with the "Upgrade" token, a Sec-WebSocket-Key that is 16 bytes in base64,
// and Sec-WebSocket-Version 13. A wrong version gets 426 Upgrade Required with
// "Sec-WebSocket-Version: 13" (section 4.4); other faults get 400 (405 for a
// method other than GET).
func Check(r *Request) (*Upgrade, *Rejection) {
	if r.Method != "GET" {
		rej := reject(405, "method "+r.Method+" is not GET")
		rej.Header = "Allow: GET"
		return nil, rej
	}
	if !protoAtLeast11(r.Proto) {
		return nil, reject(400, "protocol "+r.Proto+" is older than HTTP/1.1")
	}
	host := r.Get("Host")
	if host == "" || r.Count("Host") > 1 {
		return nil, reject(400, "missing or repeated Host header")
	}
	if !HasToken(r.Values("Upgrade"), "websocket") {
		return nil, reject(400, `missing "Upgrade: websocket" header`)
	}
	if !HasToken(r.Values("Connection"), "upgrade") {
		return nil, reject(400, `"Connection" header lacks the "Upgrade" token`)
	}
	versions := r.Values("Sec-WebSocket-Version")
	if len(versions) != 1 || strings.TrimSpace(versions[0]) != "13" {
		rej := reject(426, "Sec-WebSocket-Version must be 13")
		rej.Header = "Sec-WebSocket-Version: 13"
		return nil, rej
	}
	keys := r.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		return nil, reject(400, "missing or repeated Sec-WebSocket-Key header")
	}
	key := strings.TrimSpace(keys[0])
	if raw, err := base64.StdEncoding.DecodeString(key); err != nil || len(raw) != 16 {
		return nil, reject(400, "Sec-WebSocket-Key is not 16 bytes in base64")
	}
	u := &Upgrade{Key: key, Host: host, Origin: r.Get("Origin")}
	if u.Origin == "" {
		u.Origin = r.Get("Sec-WebSocket-Origin")
	}
	protos := r.Values("Sec-WebSocket-Protocol")
	for _, v := range protos {
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			if !validToken(p) {
				return nil, reject(400, "Sec-WebSocket-Protocol holds a value that is not a token: "+quote(p))
			}
			u.Protocols = append(u.Protocols, p)
		}
	}
	u.RawProtocols = strings.Join(u.Protocols, ", ")
	u.Extensions = r.Values("Sec-WebSocket-Extensions")
	return u, nil
}

func protoAtLeast11(p string) bool {
	v, ok := strings.CutPrefix(p, "HTTP/")
	if !ok {
		return false
	}
	maj, min, ok := strings.Cut(v, ".")
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(min)
	if !ok || err1 != nil || err2 != nil {
		return false
	}
	return a > 1 || a == 1 && b >= 1
}

// websocketGUID is the magic string of RFC 6455 section 1.3.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AcceptKey computes Sec-WebSocket-Accept for key (RFC 6455 section 4.2.2).
func AcceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte(websocketGUID))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// AppendAccept appends the 101 Switching Protocols response to dst, with the
// chosen subprotocol and extensions (each omitted when empty) and extra header
// lines (CRLF-separated) the application added.
func AppendAccept(dst []byte, key, protocol, extensions, extra string) []byte {
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	dst = append(dst, AcceptKey(key)...)
	dst = append(dst, "\r\n"...)
	if protocol != "" {
		dst = append(dst, "Sec-WebSocket-Protocol: "...)
		dst = append(dst, protocol...)
		dst = append(dst, "\r\n"...)
	}
	if extensions != "" {
		dst = append(dst, "Sec-WebSocket-Extensions: "...)
		dst = append(dst, extensions...)
		dst = append(dst, "\r\n"...)
	}
	dst = appendExtra(dst, extra)
	return append(dst, "\r\n"...)
}

// AppendReject appends an HTTP error response with the given status, extra
// header lines and a short plain-text body, and asks the client to close.
func AppendReject(dst []byte, status int, reason, extra string) []byte {
	text := StatusText(status)
	body := strconv.Itoa(status) + " " + text
	if reason != "" {
		body += ": " + reason
	}
	body += "\n"
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, text...)
	dst = append(dst, "\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n"...)
	dst = appendExtra(dst, extra)
	dst = append(dst, "\r\n"...)
	return append(dst, body...)
}

// appendExtra appends header lines given as CRLF- or LF-separated text,
// dropping empty lines and any line without a colon, which could otherwise
// split the response.
func appendExtra(dst []byte, extra string) []byte {
	for _, l := range strings.Split(extra, "\n") {
		l = strings.TrimRight(l, "\r")
		if strings.TrimSpace(l) == "" || !strings.Contains(l, ":") {
			continue
		}
		dst = append(dst, l...)
		dst = append(dst, "\r\n"...)
	}
	return dst
}
