package main

import (
	"context"
	"errors"
	"net"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args    []string
		mode    string
		command []string
		check   func(o options) bool
	}{
		{args: nil, mode: modeEcho},
		{args: []string{"broadcast"}, mode: modeBroadcast},
		{args: []string{"--port", "9000", "echo", "--max-connections", "5"}, mode: modeEcho,
			check: func(o options) bool { return o.port == 9000 && o.maxConnections == 5 }},
		{args: []string{"exec", "sh", "-c", "echo --port"}, mode: modeExec, command: []string{"sh", "-c", "echo --port"}},
		{args: []string{"exec", "--", "cat", "-u"}, mode: modeExec, command: []string{"cat", "-u"}},
		{args: []string{"--config", "MaxFrameSize=10", "--config", "CloseTimeout=1"}, mode: modeEcho,
			check: func(o options) bool {
				return reflect.DeepEqual(o.configs, []string{"MaxFrameSize=10", "CloseTimeout=1"})
			}},
		{args: []string{"--log-level", "debug"}, mode: modeEcho, check: func(o options) bool { return o.logLevel == 3 }},
		{args: []string{"--log-level", "0"}, mode: modeEcho, check: func(o options) bool { return o.logLevel == 0 }},
		{args: []string{"--timeout", "7", "--stats", "0"}, mode: modeEcho,
			check: func(o options) bool { return o.timeout == 7 && o.statsEvery == 0 }},
	}
	for _, tt := range tests {
		o, err := parseArgs(tt.args)
		if err != nil {
			t.Errorf("parseArgs(%q): %v", tt.args, err)
			continue
		}
		if o.mode != tt.mode || !reflect.DeepEqual(o.command, tt.command) {
			t.Errorf("parseArgs(%q): mode %q command %q, want %q %q", tt.args, o.mode, o.command, tt.mode, tt.command)
		}
		if tt.check != nil && !tt.check(o) {
			t.Errorf("parseArgs(%q): options %+v", tt.args, o)
		}
	}
}

func TestParseArgsErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--nope"},
		{"--port", "70000"},
		{"--port", "x"},
		{"--max-connections", "0"},
		{"--timeout", "-1"},
		{"--log-level", "loud"},
		{"--config", "NoEquals"},
		{"--static", "/does/not/exist"},
		{"--shutdown-timeout", "0s"},
		{"exec"},
		{"chat"},
		{"echo", "extra"},
	} {
		_, err := parseArgs(args)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Errorf("parseArgs(%q) = %v, want a usage error", args, err)
		}
	}
}

func TestShellJoin(t *testing.T) {
	got := shellJoin([]string{"sh", "-c", `echo "it's $HOME"`, "", "a/b.txt"})
	want := `sh -c 'echo "it'\''s $HOME"' '' a/b.txt`
	if got != want {
		t.Errorf("shellJoin = %s, want %s", got, want)
	}
}

// runCLI runs cli with args until cancel is called and returns its exit
// code, stdout and stderr.
func runCLI(ctx context.Context, args ...string) (int, string, string) {
	var stdout, stderr syncBuffer
	code := cli(ctx, nil, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestCLIHelp(t *testing.T) {
	code, out, errOut := runCLI(context.Background(), "--help")
	if code != 0 || errOut != "" {
		t.Fatalf("--help: exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{"--port PORT", "--config NAME=VALUE", "exec PROGRAM", "broadcast", "MaxFrameSize", "1001"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help does not mention %q:\n%s", want, out)
		}
	}
}

// TestCLIErrorsAreOneLine checks that bad flags, bad settings and a busy port
// end the command with one line on stderr and a non-zero exit.
func TestCLIErrorsAreOneLine(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--bogus"}, 2, "-bogus"},
		{[]string{"--config", "NoSuchSetting=1"}, 2, "NoSuchSetting"},
		{[]string{"--config", "MaxFrameSize=-5"}, 2, "MaxFrameSize"},
		{[]string{"--host", "127.0.0.1", "--port", busyPort}, 1, "the port is in use"},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(context.Background(), tt.args...)
		if code != tt.code {
			t.Errorf("%q: exit %d, want %d (stderr %q)", tt.args, code, tt.code, errOut)
		}
		if out != "" {
			t.Errorf("%q: stdout %q, want nothing", tt.args, out)
		}
		if strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "wsserver: ") || !strings.Contains(errOut, tt.want) {
			t.Errorf("%q: stderr %q, want one line mentioning %q", tt.args, errOut, tt.want)
		}
	}
}

// awaitOutput waits until the running command's stdout matches every
// pattern, and returns each pattern's first group. It fails the test if the
// command exits first.
func awaitOutput(t *testing.T, what string, stdout, stderr *syncBuffer, exit <-chan int, patterns ...*regexp.Regexp) []string {
	t.Helper()
	var groups []string
	eventually(t, what, func() bool {
		out := stdout.String()
		groups = groups[:0]
		for _, re := range patterns {
			m := re.FindStringSubmatch(out)
			if m == nil {
				break
			}
			groups = append(groups, m[1])
		}
		if len(groups) == len(patterns) {
			return true
		}
		select {
		case code := <-exit:
			t.Fatalf("command exited %d: %s", code, stderr.String())
		default:
		}
		return false
	})
	return groups
}

// TestCLIShutdown runs the command, connects a client, and stops the command
// the way SIGINT does: the client gets close code 1001 and the exit code is 0.
func TestCLIShutdown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- cli(ctx, nil, []string{"--host", "127.0.0.1", "--port", "0", "--stats", "0"}, &stdout, &stderr)
	}()
	url := awaitOutput(t, "the command prints its URL", &stdout, &stderr, exit,
		regexp.MustCompile(`WebSocket: (ws://\S+)`))[0]
	c := dial(t, url)
	c.WriteMessage(websocket.TextMessage, []byte("hi"))
	if _, msg := read(t, c); string(msg) != "hi" {
		t.Fatalf("echo: %q", msg)
	}
	cancel()
	code, reason := readClose(t, c)
	if code != 1001 {
		t.Errorf("close code %d %q, want 1001", code, reason)
	}
	// The command waits for the client's close reply; gorilla sends it on
	// reading the close frame.
	select {
	case code := <-exit:
		if code != 0 {
			t.Errorf("exit code %d, want 0; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the command did not exit within 15s of the shutdown")
	}
	if !strings.Contains(stderr.String(), "stopped") {
		t.Errorf("no 'stopped' log line:\n%s", stderr.String())
	}
}
