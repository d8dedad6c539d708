package main

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsserver/wsserver"
)

// TestExecEnvironment checks issue 9's clean exec environment: the program
// (env, which prints its environment) sees exactly PATH, the --passenv
// variables and the documented CGI variables (execEnvHelp), filled from the
// request; none of the server's other variables (a fake secret here), and
// no HTTP_PROXY (httpoxy).
func TestExecEnvironment(t *testing.T) {
	t.Setenv("WSSERVER_TEST_SECRET", "hunter2")
	t.Setenv("WSSERVER_TEST_PASSED", "passed on")
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"ws", false}, {"wss", true}} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"--passenv", "WSSERVER_TEST_PASSED,WSSERVER_TEST_UNSET", "exec", "env"}
			if tc.tls {
				args = append([]string{"--tls-self-signed"}, args...)
			}
			ta := startApp(t, args...)
			_, port, _ := net.SplitHostPort(strings.TrimPrefix(strings.TrimPrefix(ta.base, "https://"), "http://"))
			d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
			hdr := http.Header{}
			hdr.Set("X-Test-Header", "forty two")
			hdr.Add("X-Twice", "one")
			hdr.Add("X-Twice", "two")
			hdr.Set("Proxy", "http://evil.example:3128")
			c, resp, err := d.Dial(ta.ws+"/room%20a?x=1&y=%2F", hdr)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			defer c.Close()
			env := map[string]string{}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			for range 1000 {
				_, msg, err := c.ReadMessage()
				if err != nil {
					var ce *websocket.CloseError
					if !errors.As(err, &ce) || ce.Code != 1000 {
						t.Fatalf("env ended with %v, want close 1000", err)
					}
					break
				}
				name, value, ok := strings.Cut(string(msg), "=")
				if !ok {
					t.Fatalf("env printed %q", msg)
				}
				env[name] = value
			}

			want := map[string]string{
				"PATH":                 os.Getenv("PATH"),
				"WSSERVER_TEST_PASSED": "passed on",
				"GATEWAY_INTERFACE":    "CGI/1.1",
				"SERVER_SOFTWARE":      "wsserver/" + wsserver.Version,
				"SERVER_PROTOCOL":      "HTTP/1.1",
				"SERVER_NAME":          "127.0.0.1",
				"SERVER_PORT":          port,
				"REQUEST_METHOD":       "GET",
				"REQUEST_URI":          "/ws/room%20a?x=1&y=%2F",
				"SCRIPT_NAME":          "",
				"PATH_INFO":            "/ws/room a",
				"QUERY_STRING":         "x=1&y=%2F",
				"REMOTE_ADDR":          "127.0.0.1",
				"REMOTE_HOST":          "127.0.0.1",
				"REMOTE_PORT":          strconv.Itoa(c.LocalAddr().(*net.TCPAddr).Port),
				"HTTP_HOST":            "127.0.0.1:" + port,
				"HTTP_X_TEST_HEADER":   "forty two",
				"HTTP_X_TWICE":         "one, two",
				"HTTP_UPGRADE":         "websocket",
			}
			if tc.tls {
				want["HTTPS"] = "on"
			}
			for name, value := range want {
				if got, ok := env[name]; !ok || got != value {
					t.Errorf("%s=%q (set: %v), want %q", name, got, ok, value)
				}
			}
			if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(env["UNIQUE_ID"]) {
				t.Errorf("UNIQUE_ID=%q", env["UNIQUE_ID"])
			}
			if _, err := strconv.Atoi(env["WSSERVER_CONNECTION_ID"]); err != nil {
				t.Errorf("WSSERVER_CONNECTION_ID=%q", env["WSSERVER_CONNECTION_ID"])
			}
			// Exactly the documented names: the CGI set, PATH, --passenv, and
			// HTTP_* for the request's headers.
			for name := range env {
				_, wanted := want[name]
				if wanted || name == "UNIQUE_ID" || name == "WSSERVER_CONNECTION_ID" {
					continue
				}
				if strings.HasPrefix(name, "HTTP_") && name != "HTTP_PROXY" {
					continue
				}
				t.Errorf("the program got %s=%q, which is not in its documented environment", name, env[name])
			}
			for _, name := range []string{"WSSERVER_TEST_SECRET", "HTTP_PROXY", "WSSERVER_TEST_UNSET", "HOME"} {
				if _, ok := env[name]; ok {
					t.Errorf("the program got %s", name)
				}
			}
			for _, name := range slices.Sorted(func(yield func(string) bool) {
				for n := range env {
					if !yield(n) {
						return
					}
				}
			}) {
				if !strings.Contains(execEnvHelp, name) && !strings.HasPrefix(name, "HTTP_") && name != "WSSERVER_TEST_PASSED" {
					t.Errorf("%s is not documented in --help", name)
				}
			}
		})
	}
}

// TestExecFailureReasons checks that a client learns what failed, without
// the server's paths; the log has the details.
func TestExecFailureReasons(t *testing.T) {
	dir := t.TempDir()
	noexec := dir + "/secret-dir/not-executable"
	if err := os.MkdirAll(dir+"/secret-dir", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(noexec, []byte("#!/bin/sh\necho hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		program, reason string
	}{
		{dir + "/secret-dir/missing", "cannot start the program: not found"},
		{noexec, "cannot start the program: permission denied"},
	} {
		ta := startApp(t, "exec", tc.program)
		c := dial(t, ta.ws)
		code, reason := readClose(t, c)
		if code != 1011 || reason != tc.reason {
			t.Errorf("%s: close %d %q, want 1011 %q", tc.program, code, reason, tc.reason)
		}
		if !strings.Contains(ta.logs.String(), tc.program) {
			t.Errorf("the log does not name %s:\n%s", tc.program, ta.logs.String())
		}
	}
	ta := startApp(t, "exec", "sh", "-c", "exit 3")
	if code, reason := readClose(t, dial(t, ta.ws)); code != 1011 || reason != "program ended: exit status 3" {
		t.Errorf("exit 3: close %d %q", code, reason)
	}
}
