package wsserver

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsserver/wsserver/internal/transport"
	"github.com/wsserver/wsserver/internal/wiretest"
)

// sweepConn makes an open connection (on one end of a pipe) whose holdings
// are held bytes, for the budget sweep's pass to judge. Its own budget is
// out of reach, so that charging it starts no sweep of its own.
func sweepConn(t *testing.T, s *Server, id int, share, held int64) *Connection {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	c := &Connection{srv: s, id: id, sock: transport.NewStream(a), acceptData: true, opts: &connOptions{share: share, budget: 1 << 50}}
	c.hold(held, false)
	return c
}

func (c *Connection) budgetPaused() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mem.paused
}

// TestBudgetSweep_HeaviestFirst_Issue11 checks the budget sweep's pass
// (issue 11: "Over the budget, the server stops reading from the heaviest
// offenders first and cuts those that stay over with a stated close code
// (1008 or 1013) and a Log/Error entry — never the well-behaved"): over
// the budget it holds back the heaviest connections until their excess
// over their shares covers the server's excess; it cuts off with 1013 those
// held back for OverBudgetTimeout while the server stays over, heaviest
// first; connections within their share are never touched; and all resume
// once the server is within its budget.
func TestBudgetSweep_HeaviestFirst_Issue11(t *testing.T) {
	const share, budget = 100 << 10, 1 << 20
	s := New()
	errs := wiretest.NewRecorder()
	s.Events.OnError = func(e *ErrorEvent) { errs.Add("error %d %d %s", e.ConnectionID, e.ErrorCode, e.Description) }
	heaviest := sweepConn(t, s, 1, share, 600<<10)
	heavy := sweepConn(t, s, 2, share, 400<<10)
	light := sweepConn(t, s, 3, share, 200<<10)
	good := sweepConn(t, s, 4, share, 50<<10) // within its share
	all := []*Connection{heaviest, heavy, light, good}
	if got := s.MemoryInUse(); got != 1250<<10 {
		t.Fatalf("MemoryInUse %d, want %d", got, 1250<<10)
	}
	s.mem.mu.Lock()
	nHeavy := len(s.mem.heavy)
	s.mem.mu.Unlock()
	if nHeavy != 3 {
		t.Fatalf("%d connections in the set of those over their share, want 3", nHeavy)
	}

	// 250 KiB over: the heaviest's 500 KiB excess covers it alone.
	paused := map[*Connection]time.Time{}
	const grace = time.Minute
	s.sweepPass(budget, grace, paused, nil)
	for i, want := range []bool{true, false, false, false} {
		if got := all[i].budgetPaused(); got != want {
			t.Errorf("250 KiB over the budget: connection %d held back %v, want %v", all[i].id, got, want)
		}
	}
	// More over: the next heaviest is held back too, never the one within
	// its share.
	light.hold(500<<10, false) // light now holds 700 KiB: the heaviest
	s.sweepPass(budget, grace, paused, nil)
	for i, want := range []bool{true, false, true, false} {
		if got := all[i].budgetPaused(); got != want {
			t.Errorf("750 KiB over: connection %d held back %v, want %v", all[i].id, got, want)
		}
	}
	if len(errs.Snapshot()) != 0 {
		t.Fatalf("cut before OverBudgetTimeout: %q", errs.Snapshot())
	}

	// Held back past OverBudgetTimeout while still over: the heaviest held
	// back one (light, 600 KiB over its share) is cut, which covers the 750
	// KiB with heaviest's 500 KiB, so heaviest goes too; heavy, never held
	// back, stays.
	for c := range paused {
		paused[c] = time.Now().Add(-2 * grace)
	}
	s.sweepPass(budget, grace, paused, nil)
	for _, c := range []*Connection{light, heaviest} {
		msg := errs.WaitPrefix(t, "error "+strconv.Itoa(c.id)+" 1013 ")
		if !strings.Contains(msg, "OverBudgetTimeout") || !strings.Contains(msg, "memory budget") {
			t.Errorf("the cut's Error event %q does not say why", msg)
		}
		c.mu.Lock()
		code, open := c.sentCode, c.state == stateOpen
		c.mu.Unlock()
		if open || code != 1013 {
			t.Errorf("connection %d: open %v, close code %d; want cut off with 1013", c.id, open, code)
		}
	}
	if len(errs.Snapshot()) != 2 || !heavy.Connected() || !good.Connected() {
		t.Errorf("after the cut: errors %q, heavy connected %v, good connected %v; want only the two held back cut", errs.Snapshot(), heavy.Connected(), good.Connected())
	}

	// Within the budget again: whatever is held back resumes.
	heavy.hold(-300<<10, false)
	heavy.pauseForBudget()
	paused[heavy] = time.Now()
	for _, c := range []*Connection{heaviest, light} { // as their cleanup does
		c.hold(-c.mem.held.Load(), false)
	}
	s.sweepPass(budget, grace, paused, nil)
	if heavy.budgetPaused() || len(paused) != 0 {
		t.Errorf("within the budget (MemoryInUse %d): still held back: %v", s.MemoryInUse(), paused)
	}
	s.mem.mu.Lock()
	nHeavy = len(s.mem.heavy)
	s.mem.mu.Unlock()
	if nHeavy != 0 {
		t.Errorf("%d connections left in the set of those over their share, want 0", nHeavy)
	}
}
