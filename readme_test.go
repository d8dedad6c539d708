package wsserver

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsserver/wsserver/wstest"
)

// firstGoBlock returns the README's first ```go block.
func firstGoBlock(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "```go\n")
	if !ok {
		t.Fatal("README.md has no ```go block")
	}
	block, _, ok := strings.Cut(rest, "\n```")
	if !ok {
		t.Fatal("README.md's first ```go block does not end")
	}
	return block
}

// Issue 14: the README's first example is a complete program that keeps
// serving: built and started as written (on a free port instead of 8080),
// it answers a client's messages whole, including a 200,000-byte one, and
// stops on SIGINT.
func TestREADMEFirstExample_RunsAsAProgram(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the example is built for the platform the library targets")
	}
	src := firstGoBlock(t)
	if !strings.Contains(src, "package main") || !strings.Contains(src, "func main()") {
		t.Fatalf("the README's first Go example is not a complete program:\n%s", src)
	}
	const port = "s.SetLocalPort(8080)"
	if !strings.Contains(src, port) {
		t.Fatalf("the README's first example no longer calls %s, which this test replaces by a free port", port)
	}
	src = strings.Replace(src, port, "s.SetLocalPort(0)", 1)

	// Inside the module (testdata is left out of ./... patterns), so that
	// it builds against this checkout without a go.mod of its own.
	dir, err := os.MkdirTemp("testdata", "readme-example-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "example")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./"+filepath.ToSlash(dir)).CombinedOutput(); err != nil {
		t.Fatalf("building the README's first example: %v\n%s", err, out)
	}

	cmd := exec.Command(bin)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	var logged bytes.Buffer
	addr := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`ws://127\.0\.0\.1:(\d+)/chat`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logged.WriteString(sc.Text() + "\n")
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[0]:
				default:
				}
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill() // by its PID: the process this test started
			<-exited
		}
	})

	var url string
	select {
	case url = <-addr:
	case err := <-exited:
		t.Fatalf("the example exited at once (%v):\n%s", err, logged.String())
	case <-time.After(waitLimit):
		t.Fatal("the example did not log its address")
	}
	if _, err := strconv.Atoi(url[strings.LastIndex(url, ":")+1 : len(url)-len("/chat")]); err != nil {
		t.Fatalf("address %q", url)
	}

	c, err := wstest.Dial(ctxWait(t), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.WriteText("hello")
	if got, err := c.ReadText(ctxWait(t)); err != nil || got != "you said: hello" {
		t.Fatalf("the example answered %q, %v", got, err)
	}
	big := strings.Repeat("abcdefghij", 20000) // 200,000 bytes: several reads
	c.WriteText(big)
	if got, err := c.ReadText(ctxWait(t)); err != nil || got != "you said: "+big {
		t.Fatalf("the example answered %d bytes (%v), want one message of %d", len(got), err, len("you said: "+big))
	}

	// Still serving; SIGINT stops it, closing the client with 1000.
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadMessage(ctxWait(t)); err == nil || !strings.Contains(err.Error(), "1000") {
		t.Fatalf("after SIGINT the client got %v, want the server's close 1000", err)
	}
	c.Close(1000, "")
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("the example exited with %v after SIGINT:\n%s", err, logged.String())
		}
	case <-time.After(waitLimit):
		t.Fatal("the example did not exit after SIGINT")
	}
}
