package deflate

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// formatExtensions writes exts back as one header value; every name and
// value is a token, so no quoting is needed.
func formatExtensions(exts []Extension) string {
	var b strings.Builder
	for i, e := range exts {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e.Name)
		for _, p := range e.Params {
			b.WriteString("; ")
			b.WriteString(p.Name)
			if p.HasValue {
				b.WriteByte('=')
				b.WriteString(p.Value)
			}
		}
	}
	return b.String()
}

// FuzzParseExtensions checks that ParseExtensions never panics, accepts only
// the RFC 6455 section 9.1 grammar (parsed names and values are tokens, and
// formatting them back parses to the same list), and that Negotiate on any
// parsed offer never panics and answers with a response that is itself an
// acceptable offer with valid parameters (RFC 7692 section 7.1).
func FuzzParseExtensions(f *testing.F) {
	for _, s := range []string{
		"permessage-deflate",
		"permessage-deflate; client_max_window_bits",
		"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12",
		`permessage-deflate; client_max_window_bits="10", x-webkit-deflate-frame`,
		"permessage-deflate; server_max_window_bits=7, permessage-deflate",
		", ,permessage-deflate ;\tclient_max_window_bits = 9 ,",
		"permessage-deflate\npermessage-deflate; server_max_window_bits=8",
		`x; a="b\"c"`,
		"permessage-deflate;",
		"",
	} {
		f.Add(s)
	}
	policies := []Policy{{}, {ServerNoContextTakeover: true, ClientNoContextTakeover: true, ClientMaxWindowBits: 9}}
	f.Fuzz(func(t *testing.T, header string) {
		values := strings.Split(header, "\n") // several header fields
		exts, err := ParseExtensions(values)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "deflate: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			return
		}
		for _, e := range exts {
			if !isToken(e.Name) {
				t.Fatalf("extension name %q is not a token", e.Name)
			}
			for _, p := range e.Params {
				if !isToken(p.Name) || p.HasValue != (p.Value != "") || (p.HasValue && !isToken(p.Value)) {
					t.Fatalf("bad parameter %#v", p)
				}
			}
		}
		again, err := ParseExtensions([]string{formatExtensions(exts)})
		if err != nil || !reflect.DeepEqual(again, exts) {
			t.Fatalf("reparse of %q: %#v, %v; want %#v", formatExtensions(exts), again, err, exts)
		}
		for _, pol := range policies {
			resp, params, ok := Negotiate(exts, pol)
			if !ok {
				if resp != "" || params != (Params{}) {
					t.Fatalf("declined with response %q, params %+v", resp, params)
				}
				continue
			}
			for _, bits := range []int{params.ServerMaxWindowBits, params.ClientMaxWindowBits} {
				if bits < MinWindowBits || bits > MaxWindowBits {
					t.Fatalf("window bits %d out of range in %+v", bits, params)
				}
			}
			respExts, err := ParseExtensions([]string{resp})
			if err != nil || len(respExts) != 1 {
				t.Fatalf("response %q does not parse: %v", resp, err)
			}
			if _, p2, ok := Negotiate(respExts, Policy{}); !ok || p2.ServerMaxWindowBits != params.ServerMaxWindowBits ||
				p2.ServerNoContextTakeover != params.ServerNoContextTakeover || p2.ClientNoContextTakeover != params.ClientNoContextTakeover {
				t.Fatalf("response %q is not an acceptable offer with the same parameters", resp)
			}
		}
	})
}

// FuzzDecompress checks that arbitrary compressed input, cut into two frames
// anywhere, never panics the Decompressor and fails only with ErrCorrupt or
// ErrTooLarge (RFC 7692 section 7.2.2), and that the input used as a message
// survives a compress/decompress round trip (RFC 7692 section 7.2.1), twice in
// a row to exercise context takeover, for the parameters chosen by flags.
func FuzzDecompress(f *testing.F) {
	for _, seed := range [][]byte{rfcHello, rfcHelloAgain, rfcHelloStored, rfcHelloFinal, rfcHelloTwoBlocks, {0x00}, {}, {0x07}} {
		f.Add(seed, byte(0), uint16(3))
	}
	f.Add(textMessage(1, 300), byte(0x12), uint16(100))
	f.Add(bytes.Repeat([]byte{0}, 5000), byte(0x2d), uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, flags byte, split uint16) {
		const limit = 1 << 20
		cut := 0
		if len(data) > 0 {
			cut = int(split) % (len(data) + 1)
		}

		// Arbitrary input.
		d := NewDecompressor(Params{ClientNoContextTakeover: flags&1 != 0})
		_, err := inflateFrames(d, [][]byte{data[:cut], data[cut:]}, limit)
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		d.Close()

		// Round trip.
		levels := []int{DefaultCompression, HuffmanOnly, NoCompression, BestSpeed, 6, BestCompression, 2, 4}
		p := Params{
			ServerNoContextTakeover: flags&1 != 0,
			ClientNoContextTakeover: flags&1 != 0,
			ServerMaxWindowBits:     []int{15, 15, 9, 12}[flags>>1&3],
			ClientMaxWindowBits:     15,
		}
		c := NewCompressor(p, levels[flags>>3&7])
		defer c.Close()
		d = NewDecompressor(p)
		defer d.Close()
		for i := 0; i < 2; i++ {
			z := c.Compress(nil, data)
			zc := min(cut, len(z))
			got, err := inflateFrames(d, [][]byte{z[:zc], z[zc:]}, 0)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("round trip %d with %+v flags %#x: %v (got %d bytes, want %d)", i, p, flags, err, len(got), len(data))
			}
		}
	})
}
