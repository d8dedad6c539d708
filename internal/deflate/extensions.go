package deflate

import (
	"fmt"
	"strings"
)

// Param is one extension parameter of a Sec-WebSocket-Extensions element:
// its name and, when HasValue is true, its value. A bare token such as
// "server_no_context_takeover" has HasValue false and an empty Value. A
// quoted-string value is stored unquoted and unescaped.
type Param struct {
	Name     string
	Value    string
	HasValue bool
}

// Extension is one element of a Sec-WebSocket-Extensions list: the extension
// token and its parameters in the order they were sent.
type Extension struct {
	Name   string
	Params []Param
}

// ParseExtensions parses the values of the Sec-WebSocket-Extensions request
// header fields following the grammar of RFC 6455 section 9.1:
//
//	extension-list  = 1#extension
//	extension       = extension-token *( ";" extension-param )
//	extension-param = token [ "=" (token | quoted-string) ]
//
// where a quoted-string value must be a token once unescaped. Each element of
// values is one header field value and may itself hold a comma-separated
// list; as RFC 7230 section 3.2.2 allows, several fields are treated as one
// list joined by commas. Optional whitespace (spaces and tabs) is accepted
// around ",", ";" and "=", and empty list elements (", ,") are ignored as
// RFC 7230 section 7 requires. ParseExtensions returns nil and no error when
// values is empty (no header), and an error when the input is malformed or
// contains no extension; the server answers such a handshake with HTTP 400.
//
// Names and values are returned as sent (case is preserved).
func ParseExtensions(values []string) ([]Extension, error) {
	if len(values) == 0 {
		return nil, nil
	}
	var exts []Extension
	for _, v := range values {
		var err error
		exts, err = parseExtensionList(exts, v)
		if err != nil {
			return nil, err
		}
	}
	if len(exts) == 0 {
		// The grammar is 1#extension: at least one element.
		return nil, fmt.Errorf("deflate: no extension in Sec-WebSocket-Extensions value %q", clip(strings.Join(values, ", ")))
	}
	return exts, nil
}

// extParser scans one header field value.
type extParser struct {
	s string
	i int
}

// parseExtensionList appends the extensions of one header field value to
// exts.
func parseExtensionList(exts []Extension, s string) ([]Extension, error) {
	p := extParser{s: s}
	for {
		p.skipOWS()
		if p.i == len(p.s) {
			return exts, nil
		}
		if p.s[p.i] == ',' {
			p.i++ // empty list element
			continue
		}
		ext, err := p.extension()
		if err != nil {
			return nil, err
		}
		exts = append(exts, ext)
		p.skipOWS()
		if p.i == len(p.s) {
			return exts, nil
		}
		if p.s[p.i] != ',' {
			return nil, p.errorf("expected \",\" or \";\"")
		}
		p.i++
	}
}

// extension parses extension-token *( ";" extension-param ).
func (p *extParser) extension() (Extension, error) {
	name, ok := p.token()
	if !ok {
		return Extension{}, p.errorf("expected extension token")
	}
	ext := Extension{Name: name}
	for {
		p.skipOWS()
		if p.i == len(p.s) || p.s[p.i] != ';' {
			return ext, nil
		}
		p.i++
		p.skipOWS()
		pname, ok := p.token()
		if !ok {
			return Extension{}, p.errorf("expected parameter token")
		}
		param := Param{Name: pname}
		p.skipOWS()
		if p.i < len(p.s) && p.s[p.i] == '=' {
			p.i++
			p.skipOWS()
			val, err := p.value()
			if err != nil {
				return Extension{}, err
			}
			param.Value, param.HasValue = val, true
		}
		ext.Params = append(ext.Params, param)
	}
}

// value parses token | quoted-string; a quoted string must unescape to a
// token (RFC 6455 section 9.1).
func (p *extParser) value() (string, error) {
	if p.i < len(p.s) && p.s[p.i] == '"' {
		start := p.i
		v, ok := p.quotedString()
		if !ok {
			p.i = start
			return "", p.errorf("unterminated or invalid quoted-string")
		}
		if !isToken(v) {
			p.i = start
			return "", p.errorf("quoted value is not a token")
		}
		return v, nil
	}
	v, ok := p.token()
	if !ok {
		return "", p.errorf("expected parameter value")
	}
	return v, nil
}

// token parses 1*tchar.
func (p *extParser) token() (string, bool) {
	start := p.i
	for p.i < len(p.s) && isTchar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i], p.i > start
}

// quotedString parses DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 7230
// section 3.2.6) and returns the unescaped content. Without escapes the
// result shares memory with the input.
func (p *extParser) quotedString() (string, bool) {
	p.i++ // opening quote
	start := p.i
	var b *strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			var v string
			if b == nil {
				v = p.s[start:p.i]
			} else {
				v = b.String()
			}
			p.i++
			return v, true
		case c == '\\':
			if p.i+1 == len(p.s) || !isQuotedPairChar(p.s[p.i+1]) {
				return "", false
			}
			if b == nil {
				b = new(strings.Builder)
				b.WriteString(p.s[start:p.i])
			}
			b.WriteByte(p.s[p.i+1])
			p.i += 2
		case isQdtext(c):
			if b != nil {
				b.WriteByte(c)
			}
			p.i++
		default:
			return "", false
		}
	}
	return "", false
}

// skipOWS skips optional whitespace: *( SP / HTAB ).
func (p *extParser) skipOWS() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// errorf reports a syntax error at the current offset.
func (p *extParser) errorf(what string) error {
	at := "end of value"
	if p.i < len(p.s) {
		at = fmt.Sprintf("%q at offset %d", p.s[p.i], p.i)
	}
	return fmt.Errorf("deflate: malformed Sec-WebSocket-Extensions value %q: %s, found %s", clip(p.s), what, at)
}

// clip shortens s for error messages.
func clip(s string) string {
	const max = 128
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// isToken reports whether s is a non-empty token (RFC 7230 section 3.2.6).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTchar(s[i]) {
			return false
		}
	}
	return true
}

// isTchar reports whether c is a tchar:
// "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" /
// "`" / "|" / "~" / DIGIT / ALPHA.
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// isQdtext reports whether c is qdtext: HTAB / SP / %x21 / %x23-5B /
// %x5D-7E / obs-text.
func isQdtext(c byte) bool {
	return c == '\t' || c == ' ' || c == 0x21 || (0x23 <= c && c <= 0x5b) || (0x5d <= c && c <= 0x7e) || c >= 0x80
}

// isQuotedPairChar reports whether c may follow a backslash in a
// quoted-pair: HTAB / SP / VCHAR / obs-text.
func isQuotedPairChar(c byte) bool {
	return c == '\t' || c == ' ' || (0x21 <= c && c <= 0x7e) || c >= 0x80
}
