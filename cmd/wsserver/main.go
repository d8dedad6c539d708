// Command wsserver runs a WebSocket server built on the wsserver package.
//
// With no arguments it listens on 127.0.0.1:8080, echoes every message sent
// to ws://127.0.0.1:8080/ws, and serves at http://127.0.0.1:8080/ a page
// that connects back, sends what you type, shows the replies and the live
// list of connections. Other modes: broadcast (a chat room: every message
// goes to every other client) and exec PROGRAM (each client runs PROGRAM;
// messages become lines on its stdin, lines it prints become messages).
// --static DIR serves a directory beside the WebSocket endpoint.
//
// Run wsserver --help for the flags. SIGINT or SIGTERM closes every client
// with 1001 (going away) and exits 0 once they have answered or
// --shutdown-timeout has passed.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/wsserver/wsserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli(ctx, stop, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// cli runs the command with args until ctx is done, and returns the exit
// code: 0 after a shutdown, 1 when it cannot listen or serve, 2 for a bad
// command line. onStop is called once ctx is done and shutdown begins, so
// that a second signal ends the process the default way.
func cli(ctx context.Context, onStop func(), args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args)
	if errors.Is(err, errHelp) {
		printUsage(stdout, wsserver.ConfigNames())
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "wsserver: %v (see wsserver --help)\n", err)
		return 2
	}
	if o.version {
		fmt.Fprintln(stdout, versionLine())
		return 0
	}
	level := new(slog.LevelVar)
	log := newLogger(stderr, level, o.logFormat)
	a, err := newApp(o, log, level)
	if err != nil {
		fmt.Fprintf(stderr, "wsserver: %v (see wsserver --help)\n", err)
		return 2
	}
	if err := a.joinCluster(); err != nil {
		fmt.Fprintf(stderr, "wsserver: cannot join the cluster: %v\n", err)
		return 1
	}
	addr, err := a.listen()
	if err != nil {
		a.leaveCluster()
		fmt.Fprintf(stderr, "wsserver: cannot listen on %s: %v\n", net.JoinHostPort(o.host, fmt.Sprint(o.port)), listenProblem(err))
		return 1
	}
	root, page, ws := a.urls(addr)
	fmt.Fprintf(stdout, "wsserver %s: %s mode\n", wsserver.Version, describeMode(o))
	fmt.Fprintf(stdout, "  Page:      %s  (open it in a browser)\n", page)
	fmt.Fprintf(stdout, "  WebSocket: %s\n", ws)
	if o.static != "" {
		fmt.Fprintf(stdout, "  Files:     %s from %s\n", root, o.static)
	}
	if a.tls != nil {
		if fp := certFingerprint(a.srv.SSLCertEncodedB()); fp != "" {
			fmt.Fprintf(stdout, "  TLS:       certificate SHA-256 %s\n", fp)
		}
	}
	fmt.Fprintf(stdout, "Press Ctrl+C to stop.\n")
	log.Info("listening", "addr", addr, "mode", o.mode)

	served := a.serve()
	code := 0
	select {
	case <-ctx.Done():
		log.Info("shutting down", "close_code", 1001, "wait", o.shutdownWait)
	case err := <-served:
		fmt.Fprintf(stderr, "wsserver: serving stopped: %v\n", err)
		code = 1
	}
	if onStop != nil {
		onStop()
	}
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownWait)
	defer cancel()
	if err := a.shutdown(sctx); err != nil {
		log.Warn("shutdown cut short", "err", err)
	}
	if code == 0 {
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(stderr, "wsserver: %v\n", err)
			code = 1
		}
	}
	log.Info("stopped")
	return code
}

// describeMode names the mode for the banner.
func describeMode(o options) string {
	if o.mode == modeExec {
		return "exec " + shellJoin(o.command)
	}
	return o.mode
}

// listenProblem explains a listen error in a few words.
func listenProblem(err error) string {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return "the port is in use (another server? pick one with --port)"
	case errors.Is(err, syscall.EACCES):
		return "permission denied (ports below 1024 need privileges)"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no such address on this machine (check --host)"
	}
	return err.Error()
}

// versionLine describes this build: the library's version, the module
// version and VCS revision Go recorded (runtime/debug.ReadBuildInfo), the
// Go version and the platform.
func versionLine() string {
	line := "wsserver " + wsserver.Version
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return line + " (" + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")"
	}
	var details []string
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		details = append(details, "module "+v)
	}
	var rev, when, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = ", modified"
			}
		}
	}
	if rev != "" {
		details = append(details, "revision "+rev+dirty)
	}
	if when != "" {
		details = append(details, "committed "+when)
	}
	details = append(details, bi.GoVersion+" "+runtime.GOOS+"/"+runtime.GOARCH)
	return line + " (" + strings.Join(details, "; ") + ")"
}
