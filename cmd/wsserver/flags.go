package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// Modes of the command.
const (
	modeEcho      = "echo"
	modeBroadcast = "broadcast"
	modeExec      = "exec"
)

// options are the command line, parsed.
type options struct {
	mode    string   // modeEcho, modeBroadcast or modeExec
	command []string // exec: the program and its arguments

	host           string // LocalHost
	port           int    // LocalPort
	maxConnections int    // MaxConnections config setting
	backlog        int    // ConnectionBacklog
	timeout        int    // DefaultTimeout, seconds
	logLevel       int    // LogLevel config setting, 0..3
	logFormat      string // logText or logJSON
	configs        []string
	static         string        // directory served at /, "" for the built-in page
	statsEvery     time.Duration // 0: no periodic stats
	shutdownWait   time.Duration // bounded wait for close handshakes on SIGINT/SIGTERM
	pingInterval   time.Duration // PingInterval: heartbeat pings, 0 none
	pongTimeout    time.Duration // PongTimeout
	maxBacklog     int           // broadcast: bytes that may wait for one client

	tls     tlsOptions     // --tls-*: https and wss (tls.go)
	cluster clusterOptions // --cluster*: several processes as one (cluster.go)

	origins   []string // --origin: AllowedOrigins patterns besides the page's own origin
	anyOrigin bool     // --any-origin: AllowedOrigins=*

	passenv []string // --passenv: variables of the server's environment exec programs get

	monitor      string // --monitor: local, on or off (monitorguard.go)
	monitorToken string // --monitor-token, else $WSSERVER_MONITOR_TOKEN

	version bool // --version: print the version, exit
}

// errHelp is returned by parseArgs for --help: print usage, exit 0.
var errHelp = errors.New("help requested")

// usageError is a command line the command cannot run: one line, exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// configList collects repeated --config Name=Value flags.
type configList []string

func (c *configList) String() string { return strings.Join(*c, " ") }

func (c *configList) Set(v string) error {
	name, _, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("want Name=Value, e.g. --config MaxFrameSize=65536")
	}
	*c = append(*c, v)
	return nil
}

// originList collects repeated --origin patterns.
type originList []string

func (l *originList) String() string { return strings.Join(*l, ",") }

func (l *originList) Set(v string) error {
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// passenvList collects repeated --passenv NAME,... lists.
type passenvList []string

func (l *passenvList) String() string { return strings.Join(*l, ",") }

func (l *passenvList) Set(v string) error {
	names, err := parsePassenv(v)
	if err != nil {
		return err
	}
	*l = append(*l, names...)
	return nil
}

// logLevelFlag accepts 0..3 or none, info, verbose, debug.
type logLevelFlag struct{ level *int }

var logLevelNames = []string{"none", "info", "verbose", "debug"}

func (l logLevelFlag) String() string {
	if l.level == nil {
		return ""
	}
	return logLevelNames[*l.level]
}

func (l logLevelFlag) Set(v string) error {
	for i, name := range logLevelNames {
		if strings.EqualFold(v, name) || v == strconv.Itoa(i) {
			*l.level = i
			return nil
		}
	}
	return fmt.Errorf("want none, info, verbose or debug (or 0-3)")
}

// newFlagSet defines the flags on o, with o's current values as defaults.
func newFlagSet(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("wsserver", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported in one line by parseArgs
	fs.StringVar(&o.host, "host", o.host, "`ADDR` to listen on (LocalHost); \"\" for every interface")
	fs.IntVar(&o.port, "port", o.port, "TCP `PORT` to listen on (LocalPort); 0 picks a free one")
	fs.IntVar(&o.maxConnections, "max-connections", o.maxConnections, "at most `N` WebSocket clients at once (MaxConnections, 1-100000)")
	fs.IntVar(&o.backlog, "backlog", o.backlog, "`N` connections the kernel may queue before the server accepts them (ConnectionBacklog)")
	fs.IntVar(&o.timeout, "timeout", o.timeout, "`SECONDS` a send may block (DefaultTimeout); 0: sends never block")
	fs.Var(logLevelFlag{&o.logLevel}, "log-level", "`LEVEL`: none, info, verbose or debug (LogLevel 0-3)")
	fs.StringVar(&o.logFormat, "log-format", o.logFormat, "`FORMAT` of the log on stderr: text (key=value) or json")
	fs.Var((*configList)(&o.configs), "config", "set a config setting of the reference, repeatable: `Name=Value`")
	fs.StringVar(&o.static, "static", o.static, "serve the files of `DIR` at / (the built-in page moves to /_wsserver/)")
	fs.DurationVar(&o.statsEvery, "stats", o.statsEvery, "log connections, messages/s and bytes/s every `INTERVAL`; 0 never")
	fs.IntVar(&o.maxBacklog, "max-backlog", o.maxBacklog, "broadcast: disconnect (1008) a client for which more than `BYTES` wait; waiting messages also count against MemoryBudget (1013 past it)")
	fs.DurationVar(&o.pingInterval, "ping-interval", o.pingInterval, "ping a client after `DURATION` without data from it (PingInterval); 0: no heartbeat")
	fs.DurationVar(&o.pongTimeout, "pong-timeout", o.pongTimeout, "cut off a client that sends nothing for `DURATION` after a heartbeat ping (PongTimeout)")
	fs.DurationVar(&o.shutdownWait, "shutdown-timeout", o.shutdownWait, "on SIGINT/SIGTERM, wait up to `DURATION` for clients to answer the 1001 close")
	fs.StringVar(&o.tls.certFile, "tls-cert", o.tls.certFile, "serve https and wss with the PEM certificate (and chain) in `FILE`; --tls-key names its key")
	fs.StringVar(&o.tls.keyFile, "tls-key", o.tls.keyFile, "the PEM private key of --tls-cert, in `FILE`")
	fs.BoolVar(&o.version, "version", o.version, "print the version and build, then exit")
	fs.StringVar(&o.tls.store, "tls-cert-store", o.tls.store, "serve https and wss with the certificate and key in `FILE` (SSLCertStore): PEM, PFX or JWK")
	fs.StringVar(&o.tls.storeType, "tls-cert-store-type", o.tls.storeType, "`TYPE` of --tls-cert-store (SSLCertStoreType): auto, pemkeyfile, pfxfile, jwkfile or the reference's number")
	fs.StringVar(&o.tls.password, "tls-cert-password", o.tls.password, "`PASSWORD` of --tls-cert-store (SSLCertStorePassword); other users may see it in ps")
	fs.StringVar(&o.tls.subject, "tls-cert-subject", o.tls.subject, "`SUBJECT` of the certificate to use (SSLCertSubject): full, part of it, or * for the first")
	fs.Var((*originList)(&o.origins), "origin", "also allow web pages from origins matching `PATTERN` to open WebSockets, repeatable: https://app.example.com, *.example.com, localhost:* (AllowedOrigins; pages from the server's own origin are always allowed)")
	fs.BoolVar(&o.anyOrigin, "any-origin", o.anyOrigin, "allow web pages from ANY origin to open WebSockets (AllowedOrigins=*): any site a user visits can then use the server, and in exec mode run its program")
	fs.Var((*passenvList)(&o.passenv), "passenv", "exec: also pass these variables of the server's environment to the program, repeatable: `NAME,...` (it gets PATH and the CGI variables below only)")
	fs.StringVar(&o.monitor, "monitor", o.monitor, "who may read /connections and /events (client addresses, request URIs, traffic): `MODE` local (clients on this machine), on (everyone) or off")
	fs.StringVar(&o.monitorToken, "monitor-token", o.monitorToken, "/connections and /events also need `TOKEN` (Authorization: Bearer TOKEN, or ?token=TOKEN; the page passes its own ?token= on); $"+monitorTokenEnv+" keeps it out of ps")
	fs.BoolVar(&o.tls.selfSigned, "tls-self-signed", o.tls.selfSigned, "serve https and wss with a self-signed certificate for localhost made at startup (for local use)")
	fs.StringVar(&o.cluster.url, "cluster", o.cluster.url, "join other wsserver processes through the broker at `URL`: nats://HOST:4222, redis://HOST:6379, or redis+cluster://HOST:PORT,HOST:PORT (Redis Cluster, sharded pub/sub)")
	fs.StringVar(&o.cluster.listen, "cluster-listen", o.cluster.listen, "run an embedded NATS server whose routes listen on `ADDR` (HOST:PORT) and join the others through it")
	fs.StringVar(&o.cluster.routes, "cluster-routes", o.cluster.routes, "route `URLS` of the other processes' --cluster-listen, comma-separated: nats-route://HOST:PORT,...")
	fs.StringVar(&o.cluster.nodeID, "node-id", o.cluster.nodeID, "this process's `ID` in the cluster (letters, digits, - and _); default random")
	return fs
}

func defaultOptions() options {
	return options{
		mode:           modeEcho,
		host:           "127.0.0.1",
		port:           8080,
		maxConnections: 1000,
		backlog:        1024,
		logLevel:       1,
		logFormat:      logText,
		statsEvery:     10 * time.Second,
		shutdownWait:   5 * time.Second,
		pingInterval:   30 * time.Second,
		pongTimeout:    30 * time.Second,
		maxBacklog:     32 << 20,
		monitor:        monitorLocal,
		tls:            tlsOptions{storeType: "auto", subject: "*"},
	}
}

// parseArgs parses the command line: flags, then an optional mode with, for
// exec, the program to run. Flags may also follow echo and broadcast.
func parseArgs(args []string) (options, error) {
	o := defaultOptions()
	fs := newFlagSet(&o)
	parse := func(args []string) error {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		if err != nil {
			return usagef("%v", err)
		}
		return nil
	}
	if err := parse(args); err != nil {
		return o, err
	}
	rest := fs.Args()
	if len(rest) > 0 {
		o.mode = rest[0]
		rest = rest[1:]
		switch o.mode {
		case modeEcho, modeBroadcast:
			if err := parse(rest); err != nil {
				return o, err
			}
			if fs.NArg() > 0 {
				return o, usagef("%s takes no arguments, got %q", o.mode, fs.Arg(0))
			}
		case modeExec:
			if len(rest) > 0 && rest[0] == "--" {
				rest = rest[1:]
			}
			if len(rest) == 0 {
				return o, usagef("exec needs a program to run, e.g. wsserver exec cat")
			}
			o.command = rest
		default:
			return o, usagef("unknown mode %q: use echo, broadcast or exec CMD", o.mode)
		}
	}
	switch {
	case o.port < 0 || o.port > 65535:
		return o, usagef("--port must be 0-65535, got %d", o.port)
	case o.backlog < 1:
		return o, usagef("--backlog must be at least 1, got %d", o.backlog)
	case o.maxConnections < 1 || o.maxConnections > 100000:
		return o, usagef("--max-connections must be 1-100000, got %d", o.maxConnections)
	case o.maxBacklog < 1:
		return o, usagef("--max-backlog must be positive, got %d", o.maxBacklog)
	case o.pingInterval < 0 || o.pongTimeout <= 0:
		return o, usagef("--ping-interval must not be negative and --pong-timeout must be positive, got %v and %v", o.pingInterval, o.pongTimeout)
	case o.timeout < 0:
		return o, usagef("--timeout must not be negative, got %d", o.timeout)
	case o.statsEvery < 0:
		return o, usagef("--stats must not be negative, got %v", o.statsEvery)
	case o.logFormat != logText && o.logFormat != logJSON:
		return o, usagef("--log-format must be text or json, got %q", o.logFormat)
	case o.shutdownWait <= 0:
		return o, usagef("--shutdown-timeout must be positive, got %v", o.shutdownWait)
	case o.anyOrigin && len(o.origins) > 0:
		return o, usagef("--any-origin allows every origin: drop --origin, or drop --any-origin to allow only those listed")
	case o.tls.selfSigned && o.tls.store != "":
		return o, usagef("--tls-self-signed and --tls-cert-store exclude each other")
	case (o.tls.certFile == "") != (o.tls.keyFile == ""):
		return o, usagef("--tls-cert and --tls-key go together: the certificate and its private key")
	case o.tls.certFile != "" && (o.tls.selfSigned || o.tls.store != ""):
		return o, usagef("--tls-cert excludes --tls-self-signed and --tls-cert-store: choose one certificate")
	}
	if err := o.cluster.check(); err != nil {
		return o, usagef("%v", err)
	}
	if _, err := parseStoreType(o.tls.storeType); err != nil {
		return o, usagef("%v", err)
	}
	if o.static != "" {
		fi, err := os.Stat(o.static)
		if err != nil {
			return o, usagef("--static %s: %v", o.static, errors.Unwrap(err))
		}
		if !fi.IsDir() {
			return o, usagef("--static %s: not a directory", o.static)
		}
	}
	return o, nil
}

const usageHead = `wsserver: a WebSocket server.

Usage:
  wsserver [flags] [echo]                every message goes back to its sender (default)
  wsserver [flags] broadcast             every message goes to every other client: a chat room
  wsserver [flags] exec PROGRAM [ARG...] each client runs PROGRAM: each message becomes a line
                                         on its stdin, each line it prints becomes a message

With no flags it listens on 127.0.0.1:8080. Open http://127.0.0.1:8080/ in a
browser for a page that talks to the server; WebSocket clients connect to
ws://127.0.0.1:8080/ws (any path other than /events works too).

Endpoints:
  /ws           the WebSocket of the mode
  /             the built-in page (or the --static directory)
  /events       a WebSocket pushing the totals and who came and went, as JSON
  /connections  the connection list as JSON, a page at a time (?offset=&limit=)
  /healthz      200 while serving, 503 once shutting down (for load balancers)
  /metrics      the server's metrics in the Prometheus text format

Origins: a web page may open WebSockets here only when it comes from the
server's own origin (the built-in page, --static pages), so that other sites
a user visits cannot use the server (in exec mode: run the program). Allow
more with --origin PATTERN; programs that send no Origin header are not
affected.

Flags:
`

const usageTail = `
Config settings (--config): the reference's settings, e.g. MaxFrameSize=65536,
EnablePermessageDeflate=false, CloseTimeout=2, SendQueueSize=1048576. They go
to the /ws server after the flags, so they override them. Names:
%s.

Examples:
  wsserver
  wsserver --port 9000 broadcast
  wsserver --static ./public exec sh -c 'while read line; do echo "you said: $line"; done'
  wsserver --config MaxFrameSize=4096 --log-level verbose

Signals: SIGINT or SIGTERM closes every client with 1001 (going away), waits
--shutdown-timeout for the close handshakes, and exits 0.
`

// printUsage writes --help.
func printUsage(w io.Writer, configNames []string) {
	io.WriteString(w, usageHead)
	o := defaultOptions()
	fs := newFlagSet(&o)
	type row struct{ left, right string }
	var rows []row
	width := 0
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		left := "  --" + f.Name
		if arg != "" {
			left += " " + strings.ToUpper(arg)
		}
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "[]" && f.DefValue != "false" {
			usage += " (default " + f.DefValue + ")"
		}
		rows = append(rows, row{left, usage})
		width = max(width, len(left))
	})
	for _, r := range rows {
		fmt.Fprintf(w, "%-*s  %s\n", width, r.left, r.right)
	}
	io.WriteString(w, "\n"+execEnvHelp)
	fmt.Fprintf(w, usageTail, wrapNames(configNames, 72))
}

// wrapNames joins names with commas, breaking lines at width.
func wrapNames(names []string, width int) string {
	var b strings.Builder
	line := 0
	for i, n := range names {
		if i > 0 {
			b.WriteString(",")
			line++
			if line+1+len(n) > width {
				b.WriteString("\n")
				line = 0
			} else {
				b.WriteString(" ")
				line++
			}
		}
		b.WriteString(n)
		line += len(n)
	}
	return b.String()
}
