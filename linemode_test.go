package wsserver

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/wsserver/wsserver/internal/wiretest"
)

// Tests of ChangeLineMode and of MaxLineLength[ConnectionId]: DataIn per line
// of received data, with EOL telling a line break from MaxLineLength.

// lineHarness starts a server recording DataIn and Ping events, and opens a
// raw client in LineMode.
func lineHarness(t *testing.T, setup func(*Server)) (*harness, *rawConn, int, *wiretest.Recorder) {
	t.Helper()
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnDataIn = func(e *DataInEvent) { ev.Add("%s", dataIn(e)) }
		s.Events.OnPing = func(e *PingEvent) { ev.Add("Ping %s", e.Payload()) }
		if setup != nil {
			setup(s)
		}
	})
	rc, id := h.rawOpen(t, wiretest.Options{})
	if err := h.s.ChangeLineMode(id, true); err != nil {
		t.Fatal(err)
	}
	return h, rc, id, ev
}

// sync sends a ping and waits for its event: every DataIn of data sent
// before it has fired.
func syncPing(t *testing.T, rc *rawConn, ev *wiretest.Recorder, tag string) []string {
	t.Helper()
	rc.Write(t, true, opPing, []byte(tag))
	list := ev.WaitFor(t, "Ping "+tag)
	rc.Frame(t) // the pong
	return list[:len(list)-1]
}

func TestChangeLineMode_DataInPerLine(t *testing.T) {
	_, rc, _, ev := lineHarness(t, nil)
	rc.Write(t, true, opText, []byte("line one\nline two\r\npartial"))
	rc.Write(t, true, opText, []byte(" continued\n"))
	rc.Write(t, false, opBinary, []byte("a\nb"))
	rc.Write(t, true, opCont, []byte("c\n"))
	got := syncPing(t, rc, ev, "1")
	// Reference: DataFormat "If LineMode is enabled the value will always be
	// 0"; EOL "True if the DataIn event fired because an EOL was received".
	// A line break is LF or CRLF, and neither is part of the line; a line
	// ends a message (EOM) when its last byte ended one.
	want := []string{
		`0 "line one" eom=false eol=true`,
		`0 "line two" eom=false eol=true`,
		`0 "partial continued" eom=true eol=true`,
		`0 "a" eom=false eol=true`,
		`0 "bc" eom=true eol=true`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("DataIn in LineMode:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestChangeLineMode_BackToMessages(t *testing.T) {
	h, rc, id, ev := lineHarness(t, nil)
	rc.Write(t, true, opText, []byte("one\n"))
	syncPing(t, rc, ev, "1")
	if err := h.s.ChangeLineMode(id, false); err != nil {
		t.Fatal(err)
	}
	rc.Write(t, true, opText, []byte("two\nthree\n"))
	got := syncPing(t, rc, ev, "2")
	if last := got[len(got)-1]; last != `1 "two\nthree\n" eom=true eol=false` {
		t.Fatalf("DataIn after ChangeLineMode(false): %q", last)
	}
}

func TestMaxLineLength_EOLFalseWhenReached(t *testing.T) {
	h, rc, id, ev := lineHarness(t, nil)
	key := "MaxLineLength[" + strconv.Itoa(id) + "]"
	if v, err := h.s.Config(key); err != nil || v != "2048" {
		t.Fatalf("%s = %q, %v; want the default 2048", key, v, err)
	}
	if _, err := h.s.Config(key + "=5"); err != nil {
		t.Fatal(err)
	}
	if got := h.conn(t, id).MaxLineLength(); got != 5 {
		t.Fatalf("MaxLineLength() = %d", got)
	}
	rc.Write(t, true, opText, []byte("abcdefghijkl\nxyz\n"))
	got := syncPing(t, rc, ev, "1")
	// Reference: "the EOL parameter will be False if this setting caused the
	// event to fire and True if an EOL caused the event to fire."
	want := []string{
		`0 "abcde" eom=false eol=false`,
		`0 "fghij" eom=false eol=false`,
		`0 "kl" eom=false eol=true`,
		`0 "xyz" eom=true eol=true`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("DataIn with MaxLineLength 5:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A line of exactly MaxLineLength bytes ends with its line break.
	rc.Write(t, true, opText, []byte("12345\n"))
	got = syncPing(t, rc, ev, "2")
	if last := got[len(got)-1]; last != `0 "12345" eom=true eol=true` {
		t.Fatalf("a line of MaxLineLength bytes: %s", last)
	}
}

func TestMaxLineLength_DefaultForNewConnections(t *testing.T) {
	h := newHarness(t, func(s *Server) {
		if _, err := s.Config("MaxLineLength=8"); err != nil {
			t.Fatal(err)
		}
	})
	_, id := h.rawOpen(t, wiretest.Options{})
	if v, _ := h.s.Config(fmt.Sprintf("MaxLineLength[%d]", id)); v != "8" {
		t.Fatalf("MaxLineLength of a new connection = %s, want the server's 8", v)
	}
}

func TestMaxLineLength_LockedWhileLongerLinePending112(t *testing.T) {
	h, rc, id, ev := lineHarness(t, nil)
	key := "MaxLineLength[" + strconv.Itoa(id) + "]"
	rc.Write(t, false, opText, []byte("0123456789")) // 10 bytes of a line, no EOL yet
	syncPing(t, rc, ev, "1")
	// Reference error 112: "You cannot change MaxLineLength at this time."
	wantCode(t, key+"=5 below the pending line", configErr(h.s, key+"=5"), ErrMaxLineLengthLocked)
	wantCode(t, "SetMaxLineLength(9)", h.conn(t, id).SetMaxLineLength(9), ErrMaxLineLengthLocked)
	if v, _ := h.s.Config(key); v != "2048" {
		t.Fatalf("%s = %s after refused changes", key, v)
	}
	// Not below the pending line: allowed.
	if _, err := h.s.Config(key + "=10"); err != nil {
		t.Fatalf("%s=10 with 10 bytes pending: %v", key, err)
	}
	rc.Write(t, true, opCont, []byte("\n"))
	got := syncPing(t, rc, ev, "2")
	if last := got[len(got)-1]; last != `0 "0123456789" eom=true eol=true` {
		t.Fatalf("the pending line: %s", last)
	}
	// Once the line is delivered any length may be set again.
	if _, err := h.s.Config(key + "=3"); err != nil {
		t.Fatalf("%s=3 with no line pending: %v", key, err)
	}
}
