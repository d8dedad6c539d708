// Package handshake parses and answers the opening handshake of RFC 6455
// section 4 on the server side, from bytes alone: Parse reads an HTTP/1.1
// request head, Check validates it as a WebSocket upgrade, and the Append
// functions write the responses.
package handshake

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
)

// MaxRequestSize is the default bound of a request head's size; a larger
// one is refused with 431 Request Header Fields Too Large.
const MaxRequestSize = 16 << 10

// ErrIncomplete means the request head has not fully arrived yet.
var ErrIncomplete = errors.New("handshake: request head incomplete")

// Header is one request header field, as sent.
type Header struct {
	Name, Value string
}

// Request is a parsed HTTP/1.1 request head.
type Request struct {
	Method  string
	URI     string
	Proto   string // "HTTP/1.1"
	Headers []Header
	raw     string // the header lines as received, when parsed from bytes
}

// Get returns the value of the first header named name (case-insensitive), or "".
func (r *Request) Get(name string) string {
	for _, h := range r.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// Values returns the values of every header named name, in order.
func (r *Request) Values(name string) []string {
	var vs []string
	for _, h := range r.Headers {
		if strings.EqualFold(h.Name, name) {
			vs = append(vs, h.Value)
		}
	}
	return vs
}

// Count returns how many headers are named name.
func (r *Request) Count(name string) int {
	n := 0
	for _, h := range r.Headers {
		if strings.EqualFold(h.Name, name) {
			n++
		}
	}
	return n
}

// Raw returns the header fields as "Name: Value" lines joined by CRLF, the
// form of the reference's RequestHeaders: for a parsed request, the lines as
// sent, sharing the memory of the parsed head.
func (r *Request) Raw() string {
	if r.raw != "" {
		return r.raw
	}
	var b strings.Builder
	for i, h := range r.Headers {
		if i > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString(h.Name)
		b.WriteString(": ")
		b.WriteString(h.Value)
	}
	return b.String()
}

// Parse parses the request head at the start of buf, of at most
// MaxRequestSize bytes (see ParseLimit).
func Parse(buf []byte) (*Request, int, error) { return ParseLimit(buf, MaxRequestSize) }

// ParseLimit parses the request head at the start of buf. It returns the
// request and the number of bytes the head used (bytes after it already
// belong to the WebSocket stream), ErrIncomplete when the head has not ended
// yet, or a *Rejection saying which HTTP status answers the malformed
// request: 431 for a head of more than limit bytes.
func ParseLimit(buf []byte, limit int) (*Request, int, error) {
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		if len(buf) >= limit {
			return nil, 0, TooLarge(limit)
		}
		return nil, 0, ErrIncomplete
	}
	if end+4 > limit {
		return nil, 0, TooLarge(limit)
	}
	head := string(buf[:end])
	line, rest, _ := strings.Cut(head, "\r\n")
	method, target, ok1 := strings.Cut(line, " ")
	uri, proto, ok2 := strings.Cut(target, " ")
	if !ok1 || !ok2 || method == "" || uri == "" || strings.Contains(proto, " ") || !validToken(method) {
		return nil, 0, reject(400, "malformed request line")
	}
	if !validVersion(proto) {
		return nil, 0, reject(400, "malformed request line: protocol "+quote(proto))
	}
	if !validTarget(uri) {
		return nil, 0, reject(400, "malformed request line: target "+quote(uri))
	}
	r := &Request{Method: method, URI: uri, Proto: proto}
	if end > len(line) {
		r.raw = rest
		r.Headers = make([]Header, 0, strings.Count(rest, "\r\n")+1)
		for _, l := range strings.Split(rest, "\r\n") {
			if l == "" {
				continue
			}
			if l[0] == ' ' || l[0] == '\t' {
				return nil, 0, reject(400, "obsolete header line folding")
			}
			name, value, ok := strings.Cut(l, ":")
			if !ok || !validToken(name) || !validFieldValue(value) {
				return nil, 0, reject(400, "malformed header line "+quote(l))
			}
			r.Headers = append(r.Headers, Header{Name: name, Value: strings.Trim(value, " \t")})
		}
	}
	return r, end + 4, nil
}

// TooLarge is the rejection of a request head of more than limit bytes.
func TooLarge(limit int) *Rejection {
	return reject(431, "request head larger than "+strconv.Itoa(limit)+" bytes")
}

// Size returns the bytes the request head takes on the wire: the request
// line, the header lines and the blank line ending them.
func (r *Request) Size() int {
	n := len(r.Method) + len(r.URI) + len(r.Proto) + 4 + 2
	for _, h := range r.Headers {
		n += len(h.Name) + 2 + len(h.Value) + 2
	}
	return n
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return `"` + s + `"`
}

// validVersion reports whether p is an HTTP-version: "HTTP/" DIGIT "." DIGIT
// (RFC 7230 section 2.6).
func validVersion(p string) bool {
	return len(p) == 8 && strings.HasPrefix(p, "HTTP/") && isDigit(p[5]) && p[6] == '.' && isDigit(p[7])
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// validTarget reports whether a request target holds neither spaces nor
// control characters (RFC 7230 section 3.1.1).
func validTarget(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// validFieldValue reports whether a header value holds no control character
// other than a tab (RFC 7230 section 3.2): a bare CR or LF could otherwise
// hide a header line from Get or smuggle one past a proxy.
func validFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// validToken reports whether s is an RFC 7230 token.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// HasToken reports whether a comma-separated header value list contains token
// (case-insensitive), as the Connection and Upgrade headers require.
func HasToken(values []string, token string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
