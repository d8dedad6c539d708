//go:build unix

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestExecCat(t *testing.T) {
	ta := startApp(t, "exec", "cat")
	c := dial(t, ta.ws)
	c.WriteMessage(websocket.TextMessage, []byte("hello"))
	if _, got := read(t, c); string(got) != "hello" {
		t.Fatalf("got %q", got)
	}
	// A message with line breaks is several lines, hence several messages;
	// a trailing newline adds no empty line.
	c.WriteMessage(websocket.TextMessage, []byte("one\r\ntwo\n"))
	for _, want := range []string{"one", "two"} {
		if _, got := read(t, c); string(got) != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

// TestExecManyLines pushes more through cat than the stdin backlog and the
// send queue hold, so both pause, and checks every line comes back in order.
func TestExecManyLines(t *testing.T) {
	ta := startApp(t, "--config", "SendQueueSize=16384", "exec", "cat")
	c := dial(t, ta.ws)
	const n = 3000
	line := strings.Repeat("z", 1000)
	wrote := make(chan error, 1)
	go func() {
		for i := range n {
			if err := c.WriteMessage(websocket.TextMessage, []byte(strconv.Itoa(i)+line)); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	for i := range n {
		if _, got := read(t, c); string(got) != strconv.Itoa(i)+line {
			t.Fatalf("line %d: got %.20q", i, got)
		}
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
}

// TestExecProgramExits checks that the connection closes when the program
// exits: 1000 after exit status 0, 1011 otherwise, after all its output.
func TestExecProgramExits(t *testing.T) {
	t.Run("status 0", func(t *testing.T) {
		ta := startApp(t, "exec", "sh", "-c", `read line; echo "got $line"; echo bye`)
		c := dial(t, ta.ws)
		c.WriteMessage(websocket.TextMessage, []byte("x"))
		for _, want := range []string{"got x", "bye"} {
			if _, got := read(t, c); string(got) != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		}
		if code, reason := readClose(t, c); code != 1000 {
			t.Fatalf("close %d %q, want 1000", code, reason)
		}
	})
	t.Run("status 3", func(t *testing.T) {
		ta := startApp(t, "exec", "sh", "-c", `printf 'last words'; exit 3`)
		c := dial(t, ta.ws)
		if _, got := read(t, c); string(got) != "last words" {
			t.Fatalf("got %q", got)
		}
		if code, reason := readClose(t, c); code != 1011 || !strings.Contains(reason, "exit status 3") {
			t.Fatalf("close %d %q, want 1011 with the exit status", code, reason)
		}
	})
	t.Run("no such program", func(t *testing.T) {
		ta := startApp(t, "exec", "/nonexistent/program")
		c := dial(t, ta.ws)
		if code, reason := readClose(t, c); code != 1011 || !strings.Contains(reason, "cannot start") {
			t.Fatalf("close %d %q, want 1011 cannot start", code, reason)
		}
	})
}

// TestExecClientLeaves checks that a program that keeps writing is ended
// when its client disconnects, and that its children go with it.
func TestExecClientLeaves(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pids")
	// The shell starts a child that writes forever, records both PIDs, and
	// waits for it.
	script := fmt.Sprintf(`yes tick & echo "$$ $!" > %s; wait`, pidFile)
	ta := startApp(t, "exec", "sh", "-c", script)
	c := dial(t, ta.ws)
	for range 10 {
		if _, got := read(t, c); string(got) != "tick" {
			t.Fatalf("got %q", got)
		}
	}
	var pids []int
	eventually(t, "the program records its PIDs", func() bool {
		b, err := os.ReadFile(pidFile)
		f := strings.Fields(string(b))
		if err != nil || len(f) != 2 {
			return false
		}
		pids = nil
		for _, s := range f {
			n, _ := strconv.Atoi(s)
			pids = append(pids, n)
		}
		return true
	})
	c.Close() // without a close handshake, while the program writes
	eventually(t, "the connection is gone", func() bool { return ta.registered() == 0 })
	for _, pid := range pids {
		eventually(t, fmt.Sprintf("process %d has ended", pid), func() bool {
			// The shell is reaped by the server; its child, reparented, by
			// init: a zombie counts as ended.
			err := syscall.Kill(pid, 0)
			return errors.Is(err, syscall.ESRCH) || isZombie(pid)
		})
	}
}

// isZombie reports whether pid has exited and waits to be reaped.
func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the parenthesized command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// TestExecShutdown checks that shutting down ends the programs too.
func TestExecShutdown(t *testing.T) {
	ta := startApp(t, "exec", "sh", "-c", "echo ready; exec sleep 600")
	c := dial(t, ta.ws)
	if _, got := read(t, c); string(got) != "ready" {
		t.Fatalf("got %q", got)
	}
	done := make(chan int, 1)
	go func() {
		code, _ := readCloseNoFail(c)
		done <- code
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ta.shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if code := <-done; code != 1001 {
		t.Errorf("close code %d, want 1001", code)
	}
}

// readCloseNoFail reads until a close frame, for use off the test goroutine.
func readCloseNoFail(c *websocket.Conn) (int, string) {
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	for range 1000 {
		_, _, err := c.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Text
		}
		if err != nil {
			return 0, err.Error()
		}
	}
	return 0, "too many messages"
}

// threadCount returns the process's OS threads, from /proc.
func threadCount(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	t.Skip("no Threads line in /proc/self/status")
	return 0
}

// TestExecReleasesThreads_Issue11 plays the row "exec mode, 200 clients
// come and go: 208 OS threads remain": a program being waited for holds no
// OS thread (the runtime keeps every thread it makes), so 40 programs
// running at once add far fewer than 40 threads.
func TestExecReleasesThreads_Issue11(t *testing.T) {
	const n = 40
	ta := startApp(t, "--max-connections", "100", "exec", "sh", "-c", `read line; echo "got $line"`)
	before := threadCount(t)
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		conns[i] = dial(t, ta.ws)
	}
	eventually(t, "every program to run", func() bool { return ta.registered() == n })
	for _, c := range conns {
		c.WriteMessage(websocket.TextMessage, []byte("x"))
	}
	for _, c := range conns {
		if _, got := read(t, c); string(got) != "got x" {
			t.Fatalf("got %q", got)
		}
		if code, reason := readClose(t, c); code != 1000 {
			t.Fatalf("close %d %q, want 1000", code, reason)
		}
	}
	if after := threadCount(t); after-before >= n/2 {
		t.Errorf("%d programs that ran at once left %d more OS threads (%d before, %d after)", n, after-before, before, after)
	}
}
