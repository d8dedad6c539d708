package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// need skips the test when a client is missing (check returns why), or, with
// CI=true, fails it: CI must run every client.
func need(t *testing.T, what string, check func() error) {
	t.Helper()
	if err := check(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI=true but not available: %v", what, err)
		}
		t.Skipf("skipping: %s is not available (%v); ./scripts/test.sh installs it", what, err)
	}
}

// needNode checks for node and the npm packages of node/.
func needNode(t *testing.T, packages ...string) {
	t.Helper()
	need(t, "Node.js with "+strings.Join(packages, " and ")+" (cd interop/node && npm ci)", func() error {
		if _, err := exec.LookPath("node"); err != nil {
			return err
		}
		for _, p := range packages {
			if _, err := os.Stat(filepath.Join("node", "node_modules", p, "package.json")); err != nil {
				return fmt.Errorf("node/node_modules/%s missing", p)
			}
		}
		return nil
	})
}

// pythonPath is Debian's python3, which has python3-websockets; the python3
// first in PATH may be another one without it.
const pythonPath = "/usr/bin/python3"

func needPython(t *testing.T) {
	t.Helper()
	need(t, "python3-websockets for "+pythonPath, func() error {
		out, err := exec.Command(pythonPath, "-c", "import websockets; print(websockets.__version__)").CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
		}
		return nil
	})
}

const chromiumPath = "/usr/bin/chromium"

func needChromium(t *testing.T) {
	t.Helper()
	need(t, "Debian's chromium at "+chromiumPath, func() error {
		_, err := os.Stat(chromiumPath)
		return err
	})
}

var build struct {
	once sync.Once
	path string
	err  error
}

// binary builds cmd/wsserver once per test run and returns its path.
func binary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "wsserver-interop-")
		if err != nil {
			build.err = err
			return
		}
		build.path = filepath.Join(dir, "wsserver")
		// go test exports GOROOT to the test binary; the go tool of that
		// root builds the command with the same toolchain.
		goTool := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
		if _, err := os.Stat(goTool); os.Getenv("GOROOT") == "" || err != nil {
			goTool = "go"
		}
		out, err := exec.Command(goTool, "build", "-o", build.path, "../cmd/wsserver").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build ../cmd/wsserver: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.path != "" {
		os.RemoveAll(filepath.Dir(build.path))
	}
	if code == 0 {
		// Every client, server process and pipe reader a test starts must end
		// with it.
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// server is a running wsserver command.
type server struct {
	cmd    *exec.Cmd
	ws     string // ws://127.0.0.1:PORT/ws
	page   string // http://127.0.0.1:PORT/
	stderr *syncBuffer
	exited chan struct{}
	err    error // the exit status, once exited is closed
}

var urlLine = regexp.MustCompile(`^\s*(Page|WebSocket):\s+(\S+)`)

// startServer runs the wsserver command on 127.0.0.1 with a free port and
// args. When the test ends it sends SIGTERM and checks for a clean exit 0.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	args = append([]string{"--host", "127.0.0.1", "--port", "0", "--stats", "0"}, args...)
	cmd := exec.Command(binary(t), args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, stderr: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan [2]string, 4)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := urlLine.FindStringSubmatch(sc.Text()); m != nil {
				urls <- [2]string{m[1], m[2]}
			}
		}
		close(urls)
	}()
	go func() {
		s.err = cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() { s.stop(t) })
	timeout := time.After(30 * time.Second)
	for s.ws == "" || s.page == "" {
		select {
		case u, ok := <-urls:
			if !ok {
				<-s.exited
				t.Fatalf("wsserver %q exited before printing its URLs (%v):\n%s", args, s.err, s.stderr)
			}
			if u[0] == "Page" {
				s.page = u[1]
			} else {
				s.ws = u[1]
			}
		case <-timeout:
			t.Fatalf("wsserver %q printed no URLs within 30s:\n%s", args, s.stderr)
		}
	}
	return s
}

// stop sends SIGTERM and expects exit 0 within 20 seconds; then SIGKILL.
func (s *server) stop(t *testing.T) {
	t.Helper()
	select {
	case <-s.exited:
	default:
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(20 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
			t.Errorf("wsserver did not exit within 20s of SIGTERM:\n%s", s.stderr)
			return
		}
	}
	if s.err != nil {
		t.Errorf("wsserver exited with %v; want 0:\n%s", s.err, s.stderr)
	}
	if t.Failed() {
		t.Logf("wsserver log:\n%s", s.stderr)
	}
}

// script is a running client script that prints JSON lines.
type script struct {
	cmd    *exec.Cmd
	lines  chan []byte
	stderr *syncBuffer
	done   chan struct{}
	err    error
}

// runScript starts a client script (node or python) in dir.
func runScript(t *testing.T, dir, program string, args ...string) *script {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	cmd := exec.CommandContext(ctx, program, args...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	sc := &script{cmd: cmd, lines: make(chan []byte, 16), stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = sc.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		r := bufio.NewReader(stdout)
		for {
			line, err := r.ReadBytes('\n')
			if len(bytes.TrimSpace(line)) > 0 {
				sc.lines <- line
			}
			if err != nil {
				break
			}
		}
		close(sc.lines)
	}()
	go func() {
		sc.err = cmd.Wait()
		cancel()
		close(sc.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-sc.done
	})
	return sc
}

// next decodes the next JSON line into v; it fails the test on an
// {"error": ...} line, on the end of output, or after 3 minutes.
func (sc *script) next(t *testing.T, v any) {
	t.Helper()
	select {
	case line, ok := <-sc.lines:
		if !ok {
			<-sc.done
			t.Fatalf("%s ended (%v) without a result; stderr:\n%s", sc.cmd.Args, sc.err, sc.stderr)
		}
		var e struct{ Error string }
		if json.Unmarshal(line, &e) == nil && e.Error != "" {
			t.Fatalf("%s: %s\nstderr:\n%s", sc.cmd.Args, e.Error, sc.stderr)
		}
		if err := json.Unmarshal(line, v); err != nil {
			t.Fatalf("%s printed %q: %v", sc.cmd.Args, line, err)
		}
	case <-time.After(3 * time.Minute):
		t.Fatalf("%s printed nothing for 3 minutes", sc.cmd.Args)
	}
}

// wait waits for the script to exit 0.
func (sc *script) wait(t *testing.T) {
	t.Helper()
	<-sc.done
	if sc.err != nil && !errors.Is(sc.err, os.ErrProcessDone) {
		t.Fatalf("%s: %v\nstderr:\n%s", sc.cmd.Args, sc.err, sc.stderr)
	}
}

// failure waits for a script that must fail: it must print an
// {"error": ...} line and exit non-zero. It returns the error.
func (sc *script) failure(t *testing.T) string {
	t.Helper()
	var msg string
	for line := range sc.lines {
		var e struct{ Error string }
		if json.Unmarshal(line, &e) == nil && e.Error != "" {
			msg = e.Error
		} else {
			t.Errorf("%s printed %q; want only an error", sc.cmd.Args, line)
		}
	}
	<-sc.done
	if sc.err == nil || msg == "" {
		t.Fatalf("%s exited with %v and error %q; want a failure\nstderr:\n%s", sc.cmd.Args, sc.err, msg, sc.stderr)
	}
	return msg
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
