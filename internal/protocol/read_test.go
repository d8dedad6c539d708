package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wsserver/wsserver/internal/wiretest"
)

// readerCase is a byte stream and what a Reader must make of it.
type readerCase struct {
	name   string
	in     []byte
	opts   feedOpts
	events []string // expected events, in order
	code   int      // expected close code of the error, 0 for none
}

// check feeds c.in whole, byte by byte and in random splits, and compares
// each with the expected events and close code.
func (c readerCase) check(t *testing.T) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(len(c.in)), 7))
	runs := []struct {
		how string
		res result
	}{
		{"whole", feedWhole(c.in, c.opts)},
		{"byte by byte", feedBytes(c.in, c.opts)},
		{"random splits", feed(c.in, randomSplits(rng, len(c.in), 5), c.opts)},
	}
	for _, r := range runs {
		if r.res.code != c.code {
			t.Errorf("%s: fed %s: close code %d, want %d (events %q)", c.name, r.how, r.res.code, c.code, r.res.events)
			continue
		}
		if strings.Join(r.res.events, "\n") != strings.Join(c.events, "\n") {
			t.Errorf("%s: fed %s: events\n%q\nwant\n%q", c.name, r.how, r.res.events, c.events)
		}
	}
}

func runReaderCases(t *testing.T, cases []readerCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.check(t) })
	}
}

func TestReader_RFC6455_5_1_ClientFramesMustBeMasked(t *testing.T) {
	unmasked := func(f wiretest.Frame) wiretest.Frame { f.Unmasked = true; return f }
	runReaderCases(t, []readerCase{
		{name: "masked text", in: text("hi").Bytes(), events: []string{`text "hi"`}},
		{name: "masked with zero key", in: wiretest.Frame{Fin: true, Op: byte(OpText), Payload: []byte("hi")}.Bytes(), events: []string{`text "hi"`}},
		{name: "unmasked text", in: unmasked(text("hi")).Bytes(), code: CloseProtocolError},
		{name: "unmasked empty binary", in: unmasked(bin(nil)).Bytes(), code: CloseProtocolError},
		{name: "unmasked ping", in: unmasked(ping("x")).Bytes(), code: CloseProtocolError},
		{name: "unmasked close", in: unmasked(closeFrame(wiretest.ClosePayload(1000, ""))).Bytes(), code: CloseProtocolError},
		{name: "unmasked continuation", in: concat(frag(false, OpText, "a"), unmasked(frag(true, OpContinuation, "b"))), code: CloseProtocolError},
		{name: "second frame unmasked", in: concat(text("a"), unmasked(text("b"))), events: []string{`text "a"`}, code: CloseProtocolError},
	})
}

func TestReader_RFC6455_5_2_ReservedBits(t *testing.T) {
	with := func(f wiretest.Frame, rsv byte) wiretest.Frame { f.RSV = rsv; return f }
	compressed := func(f wiretest.Frame) wiretest.Frame { f.RSV = 0x40; return f }
	var cases []readerCase
	for _, rsv := range []byte{0x40, 0x20, 0x10, 0x60, 0x50, 0x30, 0x70} {
		cases = append(cases,
			readerCase{name: fmt.Sprintf("text RSV=%#x no extension", rsv), in: with(text("hi"), rsv).Bytes(), code: CloseProtocolError},
			readerCase{name: fmt.Sprintf("binary RSV=%#x no extension", rsv), in: with(bin([]byte{1}), rsv).Bytes(), code: CloseProtocolError},
			readerCase{name: fmt.Sprintf("ping RSV=%#x", rsv), in: with(ping("p"), rsv).Bytes(), code: CloseProtocolError, opts: feedOpts{inflater: true}},
			readerCase{name: fmt.Sprintf("close RSV=%#x", rsv), in: with(closeFrame(wiretest.ClosePayload(1000, "")), rsv).Bytes(), code: CloseProtocolError, opts: feedOpts{inflater: true}},
			readerCase{name: fmt.Sprintf("continuation RSV=%#x", rsv), in: concat(frag(false, OpText, "a"), with(frag(true, OpContinuation, "b"), rsv)), code: CloseProtocolError, opts: feedOpts{inflater: true}},
		)
		if rsv != 0x40 {
			cases = append(cases, readerCase{name: fmt.Sprintf("text RSV=%#x with deflate", rsv), in: with(text("hi"), rsv).Bytes(), code: CloseProtocolError, opts: feedOpts{inflater: true}})
		}
	}
	cases = append(cases,
		readerCase{name: "RSV1 after a valid message", in: concat(text("ok"), compressed(text("hi"))), events: []string{`text "ok"`}, code: CloseProtocolError},
		readerCase{name: "RSV1 text with deflate", in: wiretest.Frame{Fin: true, Op: byte(OpText), RSV: 0x40, Key: testKey, Payload: deflateMessage(t, []byte("hello"))}.Bytes(),
			opts: feedOpts{inflater: true}, events: []string{`text "hello"`}},
		readerCase{name: "pong RSV1 interleaved", in: concat(frag(false, OpText, "a"), with(pong(""), 0x40)), code: CloseProtocolError, opts: feedOpts{inflater: true}},
	)
	runReaderCases(t, cases)
}

func TestReader_RFC6455_5_2_ReservedOpcodes(t *testing.T) {
	var cases []readerCase
	for _, op := range []Opcode{3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF} {
		for _, fin := range []bool{true, false} {
			f := wiretest.Frame{Fin: fin, Op: byte(op), Payload: []byte("x"), Key: testKey}
			cases = append(cases,
				readerCase{name: fmt.Sprintf("op %#x fin=%v", op, fin), in: f.Bytes(), code: CloseProtocolError},
				readerCase{name: fmt.Sprintf("op %#x fin=%v after ping", op, fin), in: concat(ping("a"), f), events: []string{`ping "a"`}, code: CloseProtocolError},
				readerCase{name: fmt.Sprintf("op %#x fin=%v inside a message", op, fin), in: concat(frag(false, OpBinary, "a"), f), code: CloseProtocolError},
			)
		}
	}
	runReaderCases(t, cases)
}

func TestReader_RFC6455_5_2_PayloadLength(t *testing.T) {
	sized := func(n int, form int) wiretest.Frame {
		return wiretest.Frame{Fin: true, Op: byte(OpBinary), Payload: bytes.Repeat([]byte{'x'}, n), Key: testKey, LenForm: form}
	}
	want := func(n int) []string { return []string{fmt.Sprintf("binary %q", strings.Repeat("x", n))} }
	cases := []readerCase{
		{name: "0 in 7 bits", in: sized(0, 1).Bytes(), events: want(0)},
		{name: "125 in 7 bits", in: sized(125, 1).Bytes(), events: want(125)},
		{name: "126 in 16 bits", in: sized(126, 2).Bytes(), events: want(126)},
		{name: "127 in 16 bits", in: sized(127, 2).Bytes(), events: want(127)},
		{name: "128 in 16 bits", in: sized(128, 2).Bytes(), events: want(128)},
		{name: "65535 in 16 bits", in: sized(65535, 2).Bytes(), events: want(65535)},
		{name: "65536 in 64 bits", in: sized(65536, 8).Bytes(), events: want(65536)},
		// RFC 6455 section 5.2: "the minimal number of bytes MUST be used to
		// encode the length".
		{name: "0 in 16 bits", in: sized(0, 2).Bytes(), code: CloseProtocolError},
		{name: "125 in 16 bits", in: sized(125, 2).Bytes(), code: CloseProtocolError},
		{name: "0 in 64 bits", in: sized(0, 8).Bytes(), code: CloseProtocolError},
		{name: "126 in 64 bits", in: sized(126, 8).Bytes(), code: CloseProtocolError},
		{name: "65535 in 64 bits", in: sized(65535, 8).Bytes(), code: CloseProtocolError},
		// "the most significant bit MUST be 0".
		{name: "64-bit length with MSB set", in: wiretest.Frame{Fin: true, Op: byte(OpBinary), Key: testKey, LenForm: 8, RawLen: 1 << 63}.Bytes(), code: CloseProtocolError},
		{name: "64-bit length all ones", in: wiretest.Frame{Fin: true, Op: byte(OpBinary), Key: testKey, LenForm: 8, RawLen: ^uint64(0)}.Bytes(), code: CloseProtocolError},
		{name: "64-bit length MSB set plus small", in: wiretest.Frame{Fin: true, Op: byte(OpBinary), Key: testKey, LenForm: 8, RawLen: 1<<63 | 5}.Bytes(), code: CloseProtocolError},
	}
	runReaderCases(t, cases)

	// The largest legal length is accepted: the Reader waits for the payload.
	huge := wiretest.Frame{Fin: false, Op: byte(OpBinary), Key: testKey, LenForm: 8, RawLen: 1<<63 - 1}.Bytes()
	if res := feedWhole(huge, feedOpts{}); res.code != 0 {
		t.Errorf("length 2^63-1 without MaxMessageSize: code %d, want none", res.code)
	}
	if res := feedWhole(huge, feedOpts{maxSize: 1 << 20}); res.code != CloseTooBig {
		t.Errorf("length 2^63-1 with MaxMessageSize: code %d, want %d", res.code, CloseTooBig)
	}
}

func TestReader_RFC6455_5_4_Fragmentation(t *testing.T) {
	runReaderCases(t, []readerCase{
		{name: "text in three fragments", in: concat(frag(false, OpText, "Hel"), frag(false, OpContinuation, "lo, "), frag(true, OpContinuation, "world")),
			events: []string{`text "Hello, world"`}},
		{name: "binary in two fragments", in: concat(frag(false, OpBinary, "\x00\x01"), frag(true, OpContinuation, "\xff")),
			events: []string{`binary "\x00\x01\xff"`}},
		{name: "empty fragments", in: concat(frag(false, OpText, ""), frag(false, OpContinuation, ""), frag(true, OpContinuation, "")),
			events: []string{`text ""`}},
		{name: "many one-byte fragments", in: func() []byte {
			fs := []wiretest.Frame{frag(false, OpText, "a")}
			for range 100 {
				fs = append(fs, frag(false, OpContinuation, "b"))
			}
			return concat(append(fs, frag(true, OpContinuation, "c"))...)
		}(), events: []string{fmt.Sprintf("text %q", "a"+strings.Repeat("b", 100)+"c")}},
		{name: "ping between fragments", in: concat(frag(false, OpText, "ab"), ping("p1"), frag(true, OpContinuation, "cd")),
			events: []string{`ping "p1"`, `text "abcd"`}},
		{name: "pong and ping between fragments", in: concat(frag(false, OpBinary, "a"), pong("x"), frag(false, OpContinuation, "b"), ping("y"), ping("z"), frag(true, OpContinuation, "c")),
			events: []string{`pong "x"`, `ping "y"`, `ping "z"`, `binary "abc"`}},
		{name: "close between fragments", in: concat(frag(false, OpText, "ab"), closeFrame(wiretest.ClosePayload(1000, "bye")), frag(true, OpContinuation, "cd")),
			events: []string{`close 1000 "bye"`}},
		{name: "messages after a fragmented one", in: concat(frag(false, OpText, "a"), frag(true, OpContinuation, "b"), text("c"), bin([]byte("d"))),
			events: []string{`text "ab"`, `text "c"`, `binary "d"`}},
		{name: "UTF-8 sequence split across fragments", in: concat(frag(false, OpText, "\xe2"), frag(false, OpContinuation, "\x82"), frag(true, OpContinuation, "\xac")),
			events: []string{`text "€"`}},
		// RFC 6455 section 5.4: a continuation needs a message in progress,
		// and a new message may not begin inside one.
		{name: "continuation without start", in: frag(true, OpContinuation, "x").Bytes(), code: CloseProtocolError},
		{name: "non-final continuation without start", in: frag(false, OpContinuation, "x").Bytes(), code: CloseProtocolError},
		{name: "continuation after a complete message", in: concat(text("a"), frag(true, OpContinuation, "b")), events: []string{`text "a"`}, code: CloseProtocolError},
		{name: "continuation after a fragmented message ended", in: concat(frag(false, OpText, "a"), frag(true, OpContinuation, "b"), frag(true, OpContinuation, "c")),
			events: []string{`text "ab"`}, code: CloseProtocolError},
		{name: "text during fragmented text", in: concat(frag(false, OpText, "a"), text("b")), code: CloseProtocolError},
		{name: "binary during fragmented text", in: concat(frag(false, OpText, "a"), bin([]byte("b"))), code: CloseProtocolError},
		{name: "non-final text during fragmented binary", in: concat(frag(false, OpBinary, "a"), frag(false, OpText, "b")), code: CloseProtocolError},
	})
}

func TestReader_RFC6455_5_5_ControlFrameFragmented(t *testing.T) {
	var cases []readerCase
	for _, op := range []Opcode{OpPing, OpPong, OpClose} {
		f := wiretest.Frame{Fin: false, Op: byte(op), Payload: []byte{0x03, 0xe8}, Key: testKey}
		cases = append(cases,
			readerCase{name: fmt.Sprintf("op %#x without FIN", op), in: f.Bytes(), code: CloseProtocolError},
			readerCase{name: fmt.Sprintf("op %#x without FIN inside a message", op), in: concat(frag(false, OpText, "a"), f), code: CloseProtocolError},
			readerCase{name: fmt.Sprintf("op %#x without FIN then continuation", op), in: concat(f, wiretest.Frame{Fin: true, Op: byte(OpContinuation), Key: testKey}), code: CloseProtocolError},
		)
	}
	runReaderCases(t, cases)
}

func TestReader_RFC6455_5_5_ControlFrameTooLong(t *testing.T) {
	p125 := strings.Repeat("p", 125)
	var cases []readerCase
	for _, op := range []Opcode{OpPing, OpPong, OpClose} {
		for _, n := range []int{126, 127, 1000, 65535, 65536} {
			cases = append(cases, readerCase{name: fmt.Sprintf("op %#x with %d bytes", op, n),
				in: wiretest.Frame{Fin: true, Op: byte(op), Payload: bytes.Repeat([]byte{'x'}, n), Key: testKey}.Bytes(), code: CloseProtocolError})
		}
		// A length over 125 is refused from the header alone.
		cases = append(cases, readerCase{name: fmt.Sprintf("op %#x announcing 2^40 bytes", op),
			in: wiretest.Frame{Fin: true, Op: byte(op), Key: testKey, RawLen: 1 << 40}.Bytes()[:14], code: CloseProtocolError})
	}
	cases = append(cases,
		readerCase{name: "ping with 125 bytes", in: ping(p125).Bytes(), events: []string{fmt.Sprintf("ping %q", p125)}},
		readerCase{name: "pong with 125 bytes", in: pong(p125).Bytes(), events: []string{fmt.Sprintf("pong %q", p125)}},
		readerCase{name: "empty ping", in: ping("").Bytes(), events: []string{`ping ""`}},
		readerCase{name: "close with 125 bytes", in: closeFrame(wiretest.ClosePayload(1000, strings.Repeat("r", 123))).Bytes(),
			events: []string{fmt.Sprintf("close 1000 %q", strings.Repeat("r", 123))}},
		readerCase{name: "close with 124-byte reason", in: closeFrame(wiretest.ClosePayload(1000, strings.Repeat("r", 124))).Bytes(), code: CloseProtocolError},
		readerCase{name: "ping with 126 bytes inside a message", in: concat(frag(false, OpText, "a"), ping(p125+"x")), code: CloseProtocolError},
		readerCase{name: "ten pings", in: concat(ping("0"), ping("1"), ping("2"), ping("3"), ping("4"), ping("5"), ping("6"), ping("7"), ping("8"), ping("9")),
			events: []string{`ping "0"`, `ping "1"`, `ping "2"`, `ping "3"`, `ping "4"`, `ping "5"`, `ping "6"`, `ping "7"`, `ping "8"`, `ping "9"`}},
	)
	runReaderCases(t, cases)
}

func TestReader_RFC6455_5_5_1_DataAfterCloseIgnored(t *testing.T) {
	garbage := []byte{0xff, 0xff, 0xff, 0x00, 0x7f}
	runReaderCases(t, []readerCase{
		{name: "text after close", in: concat(closeFrame(wiretest.ClosePayload(1000, "")), text("late")), events: []string{`close 1000 ""`}},
		{name: "ping after close", in: concat(closeFrame(nil), ping("late")), events: []string{`close 1005 ""`}},
		{name: "garbage after close", in: append(closeFrame(wiretest.ClosePayload(1001, "gone")).Bytes(), garbage...), events: []string{`close 1001 "gone"`}},
		{name: "second close", in: concat(closeFrame(wiretest.ClosePayload(1000, "a")), closeFrame(wiretest.ClosePayload(4000, "b"))), events: []string{`close 1000 "a"`}},
	})

	rd := &Reader{}
	rec := &recorder{}
	in := concat(text("a"), closeFrame(wiretest.ClosePayload(1000, "")))
	if err := rd.Feed(in, rec); err != nil || !rd.Closed() {
		t.Fatalf("Feed: %v, Closed %v", err, rd.Closed())
	}
	if err := rd.Feed(bytes.Clone(garbage), rec); err != nil {
		t.Fatalf("Feed after close: %v", err)
	}
	if len(rec.events) != 2 {
		t.Fatalf("events after close: %q", rec.events)
	}
}

func TestReader_RFC6455_10_4_MaxMessageSize(t *testing.T) {
	lim := feedOpts{maxSize: 100}
	x := func(n int) string { return strings.Repeat("x", n) }
	runReaderCases(t, []readerCase{
		{name: "at the limit", opts: lim, in: text(x(100)).Bytes(), events: []string{fmt.Sprintf("text %q", x(100))}},
		{name: "one over", opts: lim, in: text(x(101)).Bytes(), code: CloseTooBig},
		{name: "fragments at the limit", opts: lim, in: concat(frag(false, OpBinary, x(50)), frag(true, OpContinuation, x(50))), events: []string{fmt.Sprintf("binary %q", x(100))}},
		{name: "fragments over", opts: lim, in: concat(frag(false, OpBinary, x(50)), ping(""), frag(false, OpContinuation, x(50)), frag(true, OpContinuation, "y")),
			events: []string{`ping ""`}, code: CloseTooBig},
		{name: "limit per message", opts: lim, in: concat(text(x(100)), text(x(100))), events: []string{fmt.Sprintf("text %q", x(100)), fmt.Sprintf("text %q", x(100))}},
		{name: "control frames do not count", opts: feedOpts{maxSize: 1}, in: concat(ping(x(125)), text("a")), events: []string{fmt.Sprintf("ping %q", x(125)), `text "a"`}},
		{name: "inflated over", opts: feedOpts{maxSize: 100, inflater: true}, in: wiretest.Frame{Fin: true, Op: byte(OpText), RSV: 0x40, Key: testKey, Payload: deflateMessage(t, []byte(x(101)))}.Bytes(), code: CloseTooBig},
		{name: "inflated at the limit", opts: feedOpts{maxSize: 100, inflater: true}, in: wiretest.Frame{Fin: true, Op: byte(OpText), RSV: 0x40, Key: testKey, Payload: deflateMessage(t, []byte(x(100)))}.Bytes(),
			events: []string{fmt.Sprintf("text %q", x(100))}},
	})

	// A frame announcing too much fails from its header, before its payload.
	hdr := text(x(1000)).Bytes()[:8]
	if res := feedBytes(hdr, lim); res.code != CloseTooBig || res.errAt != len(hdr) {
		t.Errorf("header of an oversized frame: code %d at %d, want %d at %d", res.code, res.errAt, CloseTooBig, len(hdr))
	}
}

func TestReader_RFC7692_CompressedMessages(t *testing.T) {
	z := func(s string) []byte { return deflateMessage(t, []byte(s)) }
	on := feedOpts{inflater: true}
	long := strings.Repeat("compressible ", 50)
	zl := z(long)
	runReaderCases(t, []readerCase{
		{name: "compressed text", opts: on, in: wiretest.Frame{Fin: true, Op: byte(OpText), RSV: 0x40, Key: testKey, Payload: z("hello")}.Bytes(), events: []string{`text "hello"`}},
		{name: "compressed binary", opts: on, in: wiretest.Frame{Fin: true, Op: byte(OpBinary), RSV: 0x40, Key: testKey, Payload: z("\x00\x01")}.Bytes(), events: []string{`binary "\x00\x01"`}},
		{name: "compressed in fragments", opts: on, in: concat(
			wiretest.Frame{Op: byte(OpText), RSV: 0x40, Key: testKey, Payload: zl[:3]},
			ping("p"),
			wiretest.Frame{Op: byte(OpContinuation), Key: testKey, Payload: zl[3:10]},
			wiretest.Frame{Fin: true, Op: byte(OpContinuation), Key: testKey, Payload: zl[10:]}),
			events: []string{`ping "p"`, fmt.Sprintf("text %q", long)}},
		{name: "compressed then plain", opts: on, in: concat(wiretest.Frame{Fin: true, Op: byte(OpText), RSV: 0x40, Key: testKey, Payload: z("a")}, text("b")),
			events: []string{`text "a"`, `text "b"`}},
		{name: "compressed invalid UTF-8", opts: on, in: wiretest.Frame{Fin: true, Op: byte(OpText), RSV: 0x40, Key: testKey, Payload: z("ok\xc0\xafok")}.Bytes(), code: CloseInvalidPayload},
		{name: "compressed truncated UTF-8", opts: on, in: wiretest.Frame{Fin: true, Op: byte(OpText), RSV: 0x40, Key: testKey, Payload: z("ok\xe2\x82")}.Bytes(), code: CloseInvalidPayload},
		{name: "corrupt deflate data", opts: on, in: wiretest.Frame{Fin: true, Op: byte(OpBinary), RSV: 0x40, Key: testKey, Payload: []byte{0xff, 0xff, 0xff}}.Bytes(), code: CloseInvalidPayload},
		{name: "RSV1 on continuation", opts: on, in: concat(wiretest.Frame{Op: byte(OpText), RSV: 0x40, Key: testKey, Payload: zl[:3]}, wiretest.Frame{Fin: true, Op: byte(OpContinuation), RSV: 0x40, Key: testKey, Payload: zl[3:]}),
			code: CloseProtocolError},
	})
}

func TestReader_HandlerErrorStopsFeed(t *testing.T) {
	rd := &Reader{}
	rec := &recorder{failOn: "ping"}
	err := rd.Feed(concat(ping("a"), text("never")), rec)
	if !errors.Is(err, errHandler) {
		t.Fatalf("Feed: %v, want the handler's error", err)
	}
	if len(rec.events) != 1 {
		t.Fatalf("events after the handler's error: %q", rec.events)
	}
	if err := rd.Feed(text("again").Bytes(), rec); !errors.Is(err, errHandler) {
		t.Fatalf("Feed after an error: %v, want the same error", err)
	}
	if len(rec.events) != 1 {
		t.Fatalf("a failed Reader went on: %q", rec.events)
	}
}

func TestReader_ErrorIsSticky(t *testing.T) {
	rd := &Reader{}
	rec := &recorder{}
	err1 := rd.Feed(frag(true, OpContinuation, "x").Bytes(), rec)
	err2 := rd.Feed(text("ok").Bytes(), rec)
	var ce *CloseError
	if !errors.As(err1, &ce) || ce.Code != CloseProtocolError || err2 != err1 {
		t.Fatalf("errors %v then %v", err1, err2)
	}
	if len(rec.events) != 0 {
		t.Fatalf("events: %q", rec.events)
	}
	if !strings.Contains(err1.Error(), "1002") {
		t.Errorf("error text %q lacks the close code", err1)
	}
}

func TestReader_State(t *testing.T) {
	rd := &Reader{}
	rec := &recorder{}
	if rd.InMessage() || rd.Closed() {
		t.Fatal("new Reader is in a message or closed")
	}
	rd.Feed(frag(false, OpBinary, "a").Bytes(), rec)
	if !rd.InMessage() || rd.MessageOp() != OpBinary {
		t.Fatalf("after a first fragment: InMessage %v, MessageOp %v", rd.InMessage(), rd.MessageOp())
	}
	rd.Feed(ping("").Bytes(), rec)
	if !rd.InMessage() || rd.MessageOp() != OpBinary {
		t.Fatal("a ping ended the message")
	}
	rd.Feed(frag(true, OpContinuation, "b").Bytes(), rec)
	if rd.InMessage() {
		t.Fatal("still in a message after FIN")
	}
	rd.Feed(closeFrame(nil).Bytes(), rec)
	if !rd.Closed() {
		t.Fatal("not Closed after a close frame")
	}
}

func TestReader_PiecesAreReaderMemory(t *testing.T) {
	// A data frame split across Feed calls is delivered in pieces as it
	// arrives, not buffered: streaming large messages costs no memory.
	rd := &Reader{}
	rec := &recorder{}
	in := bin(bytes.Repeat([]byte("z"), 1000)).Bytes()
	for i := 0; i < len(in); i += 100 {
		if err := rd.Feed(in[i:min(i+100, len(in))], rec); err != nil {
			t.Fatal(err)
		}
	}
	if rec.pieces < 10 {
		t.Fatalf("1000 bytes in 11 reads gave %d pieces; the Reader buffers", rec.pieces)
	}
}

// genStream builds a random stream of client frames, with the events a
// Reader must report for it. With bad set it may end with a protocol
// violation, whose close code it returns.
func genStream(rng *rand.Rand, bad bool) (in []byte, events []string, code int) {
	key := func() [4]byte {
		var k [4]byte
		for i := range k {
			k[i] = byte(rng.IntN(256))
		}
		return k
	}
	randText := func(n int) string {
		var b strings.Builder
		runes := []rune{'a', 'Z', ' ', 'é', '€', '𝄞', 0x7ff, 0x800, 0xffff, 0x10000, 0x10ffff, 0xd7ff, 0xe000}
		for b.Len() < n {
			b.WriteRune(runes[rng.IntN(len(runes))])
		}
		return b.String()
	}
	randBytes := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return b
	}
	sizes := []int{0, 1, 2, 3, 7, 125, 126, 127, 200, 1000, 65535, 65536, 70000}
	size := func() int {
		if rng.IntN(8) == 0 {
			return sizes[rng.IntN(len(sizes))]
		}
		return rng.IntN(40)
	}
	var frames []wiretest.Frame
	control := func() {
		switch rng.IntN(2) {
		case 0:
			p := randBytes(rng.IntN(126))
			frames = append(frames, wiretest.Frame{Fin: true, Op: byte(OpPing), Payload: p, Key: key()})
			events = append(events, fmt.Sprintf("ping %q", p))
		default:
			p := randBytes(rng.IntN(126))
			frames = append(frames, wiretest.Frame{Fin: true, Op: byte(OpPong), Payload: p, Key: key()})
			events = append(events, fmt.Sprintf("pong %q", p))
		}
	}
	for range rng.IntN(12) {
		switch rng.IntN(4) {
		case 0:
			control()
		default:
			op := OpBinary
			var msg []byte
			if rng.IntN(2) == 0 {
				op = OpText
				msg = []byte(randText(size()))
			} else {
				msg = randBytes(size())
			}
			name := map[Opcode]string{OpText: "text", OpBinary: "binary"}[op]
			events2 := []string{}
			nfrag := 1 + rng.IntN(4)
			rest := msg
			for i := 0; i < nfrag; i++ {
				n := len(rest)
				if i < nfrag-1 {
					n = rng.IntN(len(rest) + 1)
				}
				fop := OpContinuation
				if i == 0 {
					fop = op
				}
				frames = append(frames, wiretest.Frame{Fin: i == nfrag-1, Op: byte(fop), Payload: rest[:n], Key: key()})
				rest = rest[n:]
				if i < nfrag-1 && rng.IntN(3) == 0 {
					// Interleave a control frame, its event before the message's.
					before := len(events)
					control()
					events2 = append(events2, events[before:]...)
					events = events[:before]
				}
			}
			events = append(events, events2...)
			events = append(events, fmt.Sprintf("%s %q", name, msg))
		}
	}
	if rng.IntN(4) == 0 {
		code := []int{1000, 1001, 1011, 3000, 4999}[rng.IntN(5)]
		reason := randText(rng.IntN(40))
		frames = append(frames, wiretest.Frame{Fin: true, Op: byte(OpClose), Payload: wiretest.ClosePayload(code, reason), Key: key()})
		events = append(events, fmt.Sprintf("close %d %q", code, reason))
		frames = append(frames, wiretest.Frame{Fin: true, Op: byte(OpText), Payload: []byte("after close"), Key: key()})
	} else if bad {
		var f wiretest.Frame
		switch rng.IntN(8) {
		case 0:
			f, code = wiretest.Frame{Fin: true, Op: byte(OpText), Payload: []byte(randText(10) + "\xed\xa0\x80"), Key: key()}, CloseInvalidPayload
		case 1:
			f, code = wiretest.Frame{Fin: true, Op: byte(OpBinary), Payload: []byte("x"), RSV: 0x20, Key: key()}, CloseProtocolError
		case 2:
			f, code = wiretest.Frame{Fin: true, Op: byte(Opcode(3 + rng.IntN(5))), Key: key()}, CloseProtocolError
		case 3:
			f, code = wiretest.Frame{Fin: true, Op: byte(OpBinary), Payload: []byte("x"), Unmasked: true}, CloseProtocolError
		case 4:
			f, code = wiretest.Frame{Fin: true, Op: byte(OpPing), Payload: randBytes(126), Key: key()}, CloseProtocolError
		case 5:
			f, code = wiretest.Frame{Fin: true, Op: byte(OpContinuation), Payload: []byte("x"), Key: key()}, CloseProtocolError
		case 6:
			f, code = wiretest.Frame{Fin: true, Op: byte(OpClose), Payload: wiretest.ClosePayload(1005, ""), Key: key()}, CloseProtocolError
		default:
			f, code = wiretest.Frame{Fin: true, Op: byte(OpClose), Payload: wiretest.ClosePayload(1000, "\xff"), Key: key()}, CloseInvalidPayload
		}
		frames = append(frames, f)
	}
	return concat(frames...), events, code
}

// TestReader_SplitEquivalence is the property that makes a Reader usable on
// a stream: however the bytes are cut into Feed calls, the handler hears the
// same messages and control frames, and the same error.
func TestReader_SplitEquivalence(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 300
	if testing.Short() {
		n = 50
	}
	for i := range n {
		in, events, code := genStream(rng, i%2 == 1)
		whole := feedWhole(in, feedOpts{})
		if whole.code != code || strings.Join(whole.events, "\n") != strings.Join(events, "\n") {
			t.Fatalf("stream %d fed whole: %v\nwant events %q, code %d", i, whole, events, code)
		}
		splits := [][]int{randomSplits(rng, len(in), 2), randomSplits(rng, len(in), 17), randomSplits(rng, len(in), 1000)}
		for _, s := range splits {
			if got := feed(in, s, feedOpts{}); !got.same(whole) {
				t.Fatalf("stream %d split at %v: %v\nwhole: %v", i, s, got, whole)
			}
		}
		if len(in) < 5000 {
			if got := feedBytes(in, feedOpts{}); !got.same(whole) {
				t.Fatalf("stream %d byte by byte: %v\nwhole: %v", i, got, whole)
			}
		}
	}
}

// TestReader_TextPiecesValidSoFar checks the Handler's promise on text: every
// piece passed the UTF-8 check, so the pieces so far are a valid prefix.
func TestReader_TextPiecesValidSoFar(t *testing.T) {
	msg := []byte("a€𝄞ü" + strings.Repeat("ж", 40))
	in := concat(frag(false, OpText, string(msg[:7])), frag(true, OpContinuation, string(msg[7:])))
	rd := &Reader{}
	var got []byte
	h := &funcHandler{data: func(op Opcode, p []byte, fin bool) error {
		got = append(got, p...)
		if !validUTF8Prefix(got) {
			t.Errorf("pieces so far %q are not a UTF-8 prefix", got)
		}
		return nil
	}}
	for i := range in {
		if err := rd.Feed(in[i:i+1], h); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, msg) || !utf8.Valid(got) {
		t.Fatalf("got %q", got)
	}
}

// funcHandler is a Handler whose data method is a func; the others do nothing.
type funcHandler struct {
	data func(op Opcode, p []byte, fin bool) error
}

func (h *funcHandler) OnData(op Opcode, p []byte, fin bool) error { return h.data(op, p, fin) }
func (h *funcHandler) OnPing(p []byte) error                      { return nil }
func (h *funcHandler) OnPong(p []byte) error                      { return nil }
func (h *funcHandler) OnClose(code int, reason []byte) error      { return nil }
