package cluster

import (
	"bytes"
	"testing"
)

// TestEnvelope_RoundTrip checks that every kind decodes to what was encoded.
func TestEnvelope_RoundTrip(t *testing.T) {
	for k := kindBroadcast; k <= kindListReply; k++ {
		fields := []uint64{7, 1 << 40, 3}[:fieldCount[k]]
		b := appendEnvelope(nil, k, 1, "node-1", 42, 9, fields, []byte("payload"))
		var e envelope
		if err := decodeEnvelope(b, &e); err != nil {
			t.Fatalf("kind %d: %v", k, err)
		}
		if e.kind != k || e.format != 1 || string(e.sender) != "node-1" || e.incarnation != 42 || e.seq != 9 || string(e.payload) != "payload" {
			t.Fatalf("kind %d decoded as %+v", k, e)
		}
		for i, f := range fields {
			if e.fields[i] != f {
				t.Fatalf("kind %d field %d = %d, want %d", k, i, e.fields[i], f)
			}
		}
	}
}

// TestEnvelope_Malformed checks that truncated and foreign messages are
// refused rather than misread.
func TestEnvelope_Malformed(t *testing.T) {
	good := appendEnvelope(nil, kindSend, 2, "n", 1, 1, []uint64{300}, []byte("x"))
	header := 4 + len("n") + 16 + 2 // 300 takes two bytes as a uvarint
	for i := range header {
		var e envelope
		if decodeEnvelope(good[:i], &e) == nil {
			t.Fatalf("truncated to %d bytes: decoded", i)
		}
	}
	for _, b := range [][]byte{nil, {2, 1, 1, 1, 'n'}, {1, 99, 1, 1}, {1, 1, 1, 0}} {
		var e envelope
		if decodeEnvelope(b, &e) == nil {
			t.Fatalf("%v decoded", b)
		}
	}
}

// FuzzDecodeEnvelope checks that no input crashes the decoder and that what
// it accepts re-encodes to the same bytes.
func FuzzDecodeEnvelope(f *testing.F) {
	f.Add(appendEnvelope(nil, kindTopic, 1, "node1", 1, 1, nil, []byte("hello")))
	f.Add(appendEnvelope(nil, kindClose, 1, "n", 2, 3, []uint64{5, 4001}, []byte("bye")))
	f.Add(appendEnvelope(nil, kindHeartbeat, 2, "abc", 9, 0, []uint64{10, 1000, 5000}, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e envelope
		if decodeEnvelope(b, &e) != nil {
			return
		}
		again := appendEnvelope(nil, e.kind, e.format, string(e.sender), e.incarnation, e.seq, e.fields[:fieldCount[e.kind]], e.payload)
		var e2 envelope
		if err := decodeEnvelope(again, &e2); err != nil || !bytes.Equal(e2.payload, e.payload) || e2.fields != e.fields {
			t.Fatalf("re-encoded envelope differs: %v", err)
		}
	})
}

// TestParseConnID checks the "node:id" form of cluster-wide connection IDs.
func TestParseConnID(t *testing.T) {
	c, err := ParseConnID("node-1:17")
	if err != nil || c != (ConnID{"node-1", 17}) || c.String() != "node-1:17" {
		t.Fatalf("ParseConnID = %v, %v", c, err)
	}
	for _, bad := range []string{"", "node", "node:", ":3", "node:0", "node:-1", "no de:3", "node:x"} {
		if _, err := ParseConnID(bad); err == nil {
			t.Errorf("ParseConnID(%q) succeeded", bad)
		}
	}
}
