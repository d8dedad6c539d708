package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsserver/wsserver/cluster/redis/redistest"
)

// runAsCommand in the environment makes the test binary run main: the
// end-to-end tests start it as separate wsserver processes.
const runAsCommand = "WSSERVER_TEST_RUN_MAIN"

// proc is a wsserver process started by a test.
type proc struct {
	cmd  *exec.Cmd
	base string // http://127.0.0.1:PORT
	ws   string
	done chan struct{}
}

// startProc runs the command with args in a process of its own and waits
// for its banner.
func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"--host", "127.0.0.1", "--port", "0", "--stats", "0"}, args...)...)
	cmd.Env = append(os.Environ(), runAsCommand+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	wsURL := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if _, u, ok := strings.Cut(sc.Text(), "WebSocket: "); ok {
				wsURL <- strings.TrimSpace(u)
			}
		}
		io.Copy(io.Discard, out)
	}()
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%v log:\n%s", args, logs.String())
		}
	})
	select {
	case p.ws = <-wsURL:
	case <-p.done:
		t.Fatalf("wsserver %v exited: %s", args, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("wsserver %v printed no banner in 30 s: %s", args, logs.String())
	}
	p.base = "http://" + strings.TrimSuffix(strings.TrimPrefix(p.ws, "ws://"), "/ws")
	return p
}

// clusterView is the cluster part of GET /connections.
type clusterView struct {
	Connections []struct {
		ID   int    `json:"id"`
		Node string `json:"node"`
	} `json:"connections"`
	Cluster *struct {
		Node        string `json:"node"`
		Connections int    `json:"connections"`
		Nodes       []struct {
			ID string `json:"id"`
		} `json:"nodes"`
	} `json:"cluster"`
}

func (p *proc) view(t *testing.T) clusterView {
	t.Helper()
	resp, err := http.Get(p.base + "/connections")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v clusterView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// waitUntil polls cond every 50 ms for up to 30 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCluster_ThreeProcessesChat is issue 13's end-to-end test: three
// `wsserver broadcast` processes joined by their embedded NATS servers
// (--cluster-listen, --cluster-routes), a client on each, a chat across
// them; one process is killed and the other two keep chatting, and its
// node leaves the cluster totals.
func TestCluster_ThreeProcessesChat(t *testing.T) {
	ports := freePorts(t, 3)
	var procs []*proc
	for i := range 3 {
		var routes []string
		for j, p := range ports {
			if j != i {
				routes = append(routes, "nats-route://127.0.0.1:"+strconv.Itoa(p))
			}
		}
		procs = append(procs, startProc(t, "--node-id", "node"+strconv.Itoa(i+1),
			"--cluster-listen", "127.0.0.1:"+strconv.Itoa(ports[i]),
			"--cluster-routes", strings.Join(routes, ","), "broadcast"))
	}
	for _, p := range procs {
		waitUntil(t, "three nodes in "+p.base+"/connections", func() bool {
			v := p.view(t)
			return v.Cluster != nil && len(v.Cluster.Nodes) == 3
		})
	}
	var clients []*websocket.Conn
	for i, p := range procs {
		c, _, err := websocket.DefaultDialer.Dial(p.ws, nil)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	for _, p := range procs {
		waitUntil(t, "the cluster count of 3 on "+p.base, func() bool {
			v := p.view(t)
			return v.Cluster.Connections == 3 && len(v.Connections) == 1 && v.Connections[0].Node == v.Cluster.Node
		})
	}
	// say sends from client i and checks that every client of want gets it.
	say := func(i int, text string, want ...int) {
		t.Helper()
		if err := clients[i].WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		for _, j := range want {
			clients[j].SetReadDeadline(time.Now().Add(20 * time.Second))
			_, b, err := clients[j].ReadMessage()
			if err != nil || string(b) != text {
				t.Fatalf("client %d got %q, %v; want %q from client %d", j, b, err, text, i)
			}
		}
	}
	say(0, "hello from node1", 1, 2)
	say(1, "hello from node2", 0, 2)
	say(2, "hello from node3", 0, 1)

	procs[2].cmd.Process.Kill()
	<-procs[2].done
	say(0, "node3 is gone", 1)
	say(1, "we go on", 0)
	for _, p := range procs[:2] {
		waitUntil(t, "node3 to expire from "+p.base, func() bool {
			v := p.view(t)
			return len(v.Cluster.Nodes) == 2 && v.Cluster.Connections == 2
		})
	}
	say(0, "still chatting", 1)
}

// TestCluster_RedisChat: two `wsserver broadcast --cluster redis://...`
// processes on a redis-server started here (loopback, a free port, no
// persistence), a client on each, a chat across them.
func TestCluster_RedisChat(t *testing.T) {
	bin := redistest.ServerBin(t)
	redisChat(t, "redis://"+redistest.Start(t, bin))
}

// TestCluster_RedisClusterChat: the same on a Redis Cluster of three
// masters started here, joined with `--cluster redis+cluster://...` (sharded
// pub/sub, issue 13).
func TestCluster_RedisClusterChat(t *testing.T) {
	bin := redistest.ServerBin(t)
	redisChat(t, "redis+cluster://"+strings.Join(redistest.StartCluster(t, bin, 3), ","))
}

// redisChat runs two broadcast processes joined through the Redis at url
// and checks that a message of each client reaches the other.
func redisChat(t *testing.T, url string) {
	a := startProc(t, "--node-id", "ra", "--cluster", url, "broadcast")
	b := startProc(t, "--node-id", "rb", "--cluster", url, "broadcast")
	for _, p := range []*proc{a, b} {
		waitUntil(t, "two nodes", func() bool { v := p.view(t); return v.Cluster != nil && len(v.Cluster.Nodes) == 2 })
	}
	ca, _, err := websocket.DefaultDialer.Dial(a.ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	cb, _, err := websocket.DefaultDialer.Dial(b.ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	for _, p := range []*proc{a, b} { // each has its client registered, and has heard of the other's
		waitUntil(t, "the cluster count of 2 on "+p.base, func() bool {
			v := p.view(t)
			return v.Cluster.Connections == 2 && len(v.Connections) == 1
		})
	}
	for _, x := range []struct {
		from, to *websocket.Conn
		text     string
	}{{ca, cb, "from a"}, {cb, ca, "from b"}} {
		if err := x.from.WriteMessage(websocket.TextMessage, []byte(x.text)); err != nil {
			t.Fatal(err)
		}
		x.to.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, m, err := x.to.ReadMessage(); err != nil || string(m) != x.text {
			t.Fatalf("got %q, %v; want %q", m, err, x.text)
		}
	}
}

// TestCluster_FlagErrors checks the one-line usage errors of the --cluster
// flags.
func TestCluster_FlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--cluster", "nats://h:4222", "--cluster-listen", "127.0.0.1:6222"},
		{"--cluster-routes", "nats-route://127.0.0.1:6222"},
		{"--node-id", "x"},
		{"--cluster", "ftp://h:1"},
		{"--cluster", "nats://"},
		{"--cluster-listen", "nohostport"},
	} {
		if _, err := parseArgs(args); err == nil {
			t.Errorf("parseArgs(%q) succeeded", args)
		}
	}
	for _, url := range []string{"redis://127.0.0.1:6379", "redis+cluster://127.0.0.1:7000,127.0.0.1:7001", "rediss+cluster://h:7000"} {
		if _, err := parseArgs([]string{"--cluster", url, "--node-id", "n1", "broadcast"}); err != nil {
			t.Errorf("%s refused: %v", url, err)
		}
	}
}
