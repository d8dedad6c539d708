package protocol

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wsserver/wsserver/internal/wiretest"
)

// closeCodeValid is RFC 6455 section 7.4 read directly: which codes a
// received close frame may carry.
func closeCodeValid(code int) bool {
	switch {
	case code < 1000: // 0-999: not used
		return false
	case code == 1004, code == 1005, code == 1006, code == 1015: // reserved, or never sent
		return false
	case code <= 1014: // 1000-1003, 1007-1014: defined or registered with IANA
		return true
	case code < 3000: // 1016-2999: reserved for future revisions of the protocol
		return false
	case code <= 4999: // 3000-3999 registered, 4000-4999 private use
		return true
	}
	return false
}

func TestValidReceivedCloseCode_RFC6455_7_4(t *testing.T) {
	for code := 0; code <= 0xFFFF; code++ {
		if got, want := ValidReceivedCloseCode(code), closeCodeValid(code); got != want {
			t.Errorf("ValidReceivedCloseCode(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestReader_RFC6455_7_4_1_CloseCodes(t *testing.T) {
	var cases []readerCase
	for _, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		cases = append(cases, readerCase{name: fmt.Sprintf("valid %d", code), in: closeFrame(wiretest.ClosePayload(code, "r")).Bytes(),
			events: []string{fmt.Sprintf("close %d \"r\"", code)}})
	}
	for _, code := range []int{0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		cases = append(cases, readerCase{name: fmt.Sprintf("invalid %d", code), in: closeFrame(wiretest.ClosePayload(code, "")).Bytes(), code: CloseProtocolError})
	}
	runReaderCases(t, cases)
}

func TestReader_RFC6455_5_5_1_ClosePayload(t *testing.T) {
	r123 := strings.Repeat("é", 61) + "x"
	runReaderCases(t, []readerCase{
		{name: "empty payload is 1005", in: closeFrame(nil).Bytes(), events: []string{`close 1005 ""`}},
		{name: "code only", in: closeFrame(wiretest.ClosePayload(1000, "")).Bytes(), events: []string{`close 1000 ""`}},
		{name: "code and reason", in: closeFrame(wiretest.ClosePayload(1001, "going away")).Bytes(), events: []string{`close 1001 "going away"`}},
		{name: "123-byte UTF-8 reason", in: closeFrame(wiretest.ClosePayload(1000, r123)).Bytes(), events: []string{fmt.Sprintf("close 1000 %q", r123)}},
		{name: "1-byte payload", in: closeFrame([]byte{0x03}).Bytes(), code: CloseProtocolError},
		{name: "1-byte payload inside a message", in: concat(frag(false, OpText, "a"), closeFrame([]byte{0x03})), code: CloseProtocolError},
		{name: "invalid UTF-8 reason", in: closeFrame(wiretest.ClosePayload(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64")).Bytes(), code: CloseInvalidPayload},
		{name: "reason 0xFF", in: closeFrame(wiretest.ClosePayload(1000, "\xff")).Bytes(), code: CloseInvalidPayload},
		{name: "truncated UTF-8 reason", in: closeFrame(wiretest.ClosePayload(1000, "ab\xe2\x82")).Bytes(), code: CloseInvalidPayload},
		{name: "invalid code beats invalid reason", in: closeFrame(wiretest.ClosePayload(999, "\xff")).Bytes(), code: CloseProtocolError},
	})
}

func TestAppendClosePayload(t *testing.T) {
	for _, c := range []struct {
		code   int
		reason string
		want   []byte
	}{
		{1000, "", []byte{0x03, 0xe8}},
		{1001, "bye", []byte{0x03, 0xe9, 'b', 'y', 'e'}},
		{4999, "x", []byte{0x13, 0x87, 'x'}},
		{CloseNoStatus, "ignored", nil},
		{0, "ignored", nil},
	} {
		if got := AppendClosePayload(nil, c.code, c.reason); !bytes.Equal(got, c.want) {
			t.Errorf("AppendClosePayload(%d, %q) = % x, want % x", c.code, c.reason, got, c.want)
		}
	}
	// A reason too long for a control frame is cut at 123 bytes, on a rune
	// boundary, and the result parses back.
	for _, unit := range []string{"x", "é", "€", "𝄞"} {
		for extra := 0; extra < 8; extra++ {
			reason := strings.Repeat(unit, 123/len(unit)) + strings.Repeat("y", extra)
			p := AppendClosePayload([]byte("prefix"), 1000, reason)
			p = p[len("prefix"):]
			if len(p) > MaxControlPayload {
				t.Fatalf("%d-byte reason: payload of %d bytes", len(reason), len(p))
			}
			if !utf8.Valid(p[2:]) || !strings.HasPrefix(reason, string(p[2:])) || len(p) < MaxControlPayload-3 {
				t.Fatalf("%d-byte reason cut to %q", len(reason), p[2:])
			}
			code, got, err := parseClose(p)
			if err != nil || code != 1000 || !bytes.Equal(got, p[2:]) {
				t.Fatalf("parseClose: %d %q %v", code, got, err)
			}
		}
	}
}

func TestDefaultCloseReason(t *testing.T) {
	for code := 1000; code <= 1014; code++ {
		got := DefaultCloseReason(code)
		sendable := ValidReceivedCloseCode(code)
		if sendable && got == "" {
			t.Errorf("DefaultCloseReason(%d) is empty", code)
		}
		if !sendable && got != "" {
			t.Errorf("DefaultCloseReason(%d) = %q for a code that is never sent", code, got)
		}
	}
	if DefaultCloseReason(4000) != "" {
		t.Error("an application code has a default reason")
	}
}

func TestCloseError(t *testing.T) {
	err := &CloseError{Code: 1007, Reason: "bad text"}
	if s := err.Error(); !strings.Contains(s, "1007") || !strings.Contains(s, "bad text") {
		t.Errorf("Error() = %q", s)
	}
}
