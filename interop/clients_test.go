package interop

import (
	"strings"
	"syscall"
	"testing"
)

// A client runs the scenarios of node/client.mjs or python/client.py: the
// two scripts print the same JSON for the same scenario. For a wss:// URL,
// caFile is the PEM file of the CA the client trusts (and the only one);
// "" for ws://.
type client struct {
	name  string
	need  func(t *testing.T)
	start func(t *testing.T, url, scenario, caFile string) *script
}

// scriptArgs are a client script's arguments: URL SCENARIO [CA_FILE].
func scriptArgs(url, scenario, caFile string) []string {
	args := []string{url, scenario}
	if caFile != "" {
		args = append(args, caFile)
	}
	return args
}

var clients = []client{
	{
		name: "node-ws",
		need: func(t *testing.T) { needNode(t, "ws") },
		start: func(t *testing.T, url, scenario, caFile string) *script {
			return runScript(t, "node", "node", append([]string{"client.mjs"}, scriptArgs(url, scenario, caFile)...)...)
		},
	},
	{
		name: "python-websockets",
		need: needPython,
		start: func(t *testing.T, url, scenario, caFile string) *script {
			return runScript(t, "python", pythonPath, append([]string{"client.py"}, scriptArgs(url, scenario, caFile)...)...)
		},
	},
}

// result is the union of the scenarios' JSON results.
type result struct {
	Sent           any
	Received       string
	Binary         bool
	Length         int
	Equal          bool
	Text           string
	TextBinary     bool
	BinaryEqual    bool
	BinaryBinary   bool
	SentSha256     string
	ReceivedSha256 string
	Extensions     string
	AllEqual       bool
	Count          int
	Pong           string
	After          string
	Closes         []struct {
		Sent, Code int
		Reason     string
	}
	Open   bool
	Code   int
	Reason string
}

// scenarios are what each client does against the echo server, with the
// result it must report.
var scenarios = []struct {
	name  string
	check func(r result) bool
}{
	{"text", func(r result) bool { return r.Received == "hello, wsserver ✓ мир" && !r.Binary }},
	{"binary", func(r result) bool { return r.Binary && r.Length == 1024 && r.Equal }},
	{"fragmented", func(r result) bool {
		return r.Text == "frag-ment-ed ✓" && !r.TextBinary && r.BinaryEqual && r.BinaryBinary
	}},
	{"large", func(r result) bool {
		return r.Length == 16<<20 && r.Binary && r.SentSha256 != "" && r.SentSha256 == r.ReceivedSha256
	}},
	{"deflate", func(r result) bool {
		return strings.Contains(r.Extensions, "permessage-deflate") && r.AllEqual && r.Count == 4
	}},
	{"ping", func(r result) bool { return r.Pong == "probe" && r.After == "after ping" }},
	{"close", func(r result) bool {
		// The server answers a client's close with the client's code.
		ok := len(r.Closes) == 3
		for _, c := range r.Closes {
			ok = ok && c.Code == c.Sent
		}
		return ok
	}},
}

// TestClients runs every scenario with every client against the echo mode
// of the wsserver command, over ws:// and over wss:// (TestClients/wss/...).
func TestClients(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			for _, cl := range clients {
				t.Run(cl.name, func(t *testing.T) {
					cl.need(t)
					srv, p := startServerOver(t, tr.tls)
					for _, sc := range scenarios {
						t.Run(sc.name, func(t *testing.T) {
							run := cl.start(t, srv.ws, sc.name, p.caFileOrEmpty())
							var r result
							run.next(t, &r)
							run.wait(t)
							if !sc.check(r) {
								t.Errorf("%s %s over %s: unexpected result %+v", cl.name, sc.name, tr.name, r)
							}
						})
					}
				})
			}
		})
	}
}

// TestClientsShutdown checks, over ws:// and wss://, that each client sees
// close code 1001 when the command gets SIGTERM, and that the command then
// exits 0.
func TestClientsShutdown(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			for _, cl := range clients {
				t.Run(cl.name, func(t *testing.T) {
					cl.need(t)
					srv, p := startServerOver(t, tr.tls)
					run := cl.start(t, srv.ws, "await-close", p.caFileOrEmpty())
					var open result
					run.next(t, &open)
					if !open.Open {
						t.Fatalf("expected {open: true}, got %+v", open)
					}
					srv.cmd.Process.Signal(syscall.SIGTERM)
					var r result
					run.next(t, &r)
					run.wait(t)
					if r.Code != 1001 {
						t.Errorf("close code %d %q, want 1001", r.Code, r.Reason)
					}
					srv.stop(t) // expects exit 0
				})
			}
		})
	}
}

// TestClientsExec runs the text scenario against exec mode with cat: each
// message goes through the program and back.
func TestClientsExec(t *testing.T) {
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) {
			cl.need(t)
			srv := startServer(t, "exec", "cat")
			run := cl.start(t, srv.ws, "text", "")
			var r result
			run.next(t, &r)
			run.wait(t)
			if r.Received != "hello, wsserver ✓ мир" || r.Binary {
				t.Errorf("%s through cat: %+v", cl.name, r)
			}
		})
	}
}
