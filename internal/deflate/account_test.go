package deflate

import (
	"bytes"
	stdflate "compress/flate"
	"errors"
	"testing"
)

// The memory a Decompressor holds between calls is reported to its account
// (issue 11: every byte the server holds for a connection, the
// decompressor's buffered input and window included, is accounted).

// TestDecompress_AccountReportsHeldBytes checks that the account's running
// total always equals Held, grows with the compressed input and the
// context-takeover history, and is given back to zero by Close, whether
// messages are streamed or inflated whole.
func TestDecompress_AccountReportsHeldBytes(t *testing.T) {
	m := randomBytes(7, 300<<10) // incompressible: the input is as large as the message
	for _, whole := range []bool{false, true} {
		for _, takeover := range []bool{false, true} {
			d := NewDecompressor(Params{ClientNoContextTakeover: !takeover})
			d.SetWholeMessages(whole)
			var total, peak int64
			d.SetAccount(func(delta int64) error {
				total += delta
				peak = max(peak, total)
				return nil
			})
			z := stdCompress(t, m, stdflate.BestSpeed)
			var out []byte
			emit := func(p []byte) error { out = append(out, p...); return nil }
			for i := 0; i < len(z); i += 8 << 10 {
				if err := d.Write(z[i:min(i+8<<10, len(z))], 0, emit); err != nil {
					t.Fatal(err)
				}
				if total != d.Held() || total < 0 {
					t.Fatalf("whole %v takeover %v: account total %d, Held %d", whole, takeover, total, d.Held())
				}
			}
			if err := d.Finish(0, emit); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, m) {
				t.Fatalf("whole %v takeover %v: output differs", whole, takeover)
			}
			if whole && peak < int64(len(z)) {
				t.Errorf("whole %v: the account saw at most %d bytes while %d compressed bytes were held", whole, peak, len(z))
			}
			// Between messages only the history stays.
			wantBetween := int64(0)
			if takeover {
				wantBetween = windowSize
			}
			if total != wantBetween || d.Held() != wantBetween {
				t.Errorf("whole %v takeover %v: %d bytes accounted between messages (Held %d), want %d", whole, takeover, total, d.Held(), wantBetween)
			}
			d.Close()
			if total != 0 || d.Held() != 0 {
				t.Errorf("whole %v takeover %v: %d bytes accounted after Close (Held %d), want 0", whole, takeover, total, d.Held())
			}
		}
	}
}

// TestDecompress_AccountRefusesGrowth checks that a growth the account
// refuses fails the Write with the account's error before the buffer grows,
// that the failure is sticky, and that what was held is given back.
func TestDecompress_AccountRefusesGrowth(t *testing.T) {
	errFull := errors.New("budget exhausted")
	const limit = 64 << 10
	m := randomBytes(9, 200<<10)
	z := stdCompress(t, m, stdflate.BestSpeed)
	d := NewDecompressor(Params{ClientNoContextTakeover: true})
	d.SetWholeMessages(true)
	var total int64
	d.SetAccount(func(delta int64) error {
		if delta > 0 && total+delta > limit {
			return errFull
		}
		total += delta
		return nil
	})
	emit := func([]byte) error { return nil }
	var err error
	for i := 0; i < len(z) && err == nil; i += 4 << 10 {
		err = d.Write(z[i:min(i+4<<10, len(z))], 0, emit)
		if total > limit || int64(cap(d.in)) > limit {
			t.Fatalf("%d bytes accounted, input capacity %d, over the account's %d", total, cap(d.in), limit)
		}
	}
	if !errors.Is(err, errFull) {
		t.Fatalf("feeding %d compressed bytes with a %d-byte account: %v, want the account's error", len(z), limit, err)
	}
	if err := d.Write([]byte{0}, 0, emit); !errors.Is(err, errFull) {
		t.Errorf("a Write after the refusal: %v, want the same error", err)
	}
	if total != 0 {
		t.Errorf("%d bytes still accounted after the failed message, want 0", total)
	}
	d.Close()
}
