// Package redistest starts real redis-server processes for tests and
// benchmarks: one server, or a Redis Cluster of several masters, on
// 127.0.0.1 and ports the OS had free, with temporary directories and no
// persistence. Each process is stopped, by its PID, when the test ends.
// It needs redis-server 7 or later (Debian's redis-server package, which
// scripts/install-clients.sh installs).
package redistest

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Wait bounds every wait of the package.
const Wait = 30 * time.Second

// ServerBin returns redis-server's path. Without it the test is skipped,
// or fails under CI=true (where scripts/install-clients.sh installs it).
func ServerBin(tb testing.TB) string {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatal("redis-server is not installed (scripts/install-clients.sh installs it)")
		}
		tb.Skip("redis-server is not installed (apt-get install redis-server)")
	}
	return bin
}

// freePort returns a loopback port the OS had free a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitFor polls cond every 10 ms until it holds, failing after Wait.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(Wait)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", Wait, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// server is a redis-server that start started.
type server struct {
	addr   string
	bus    int // cluster bus port (cluster mode)
	client *goredis.Client
	kill   func() // stops it at once (SIGKILL) and waits for its end
}

// start runs redis-server bin on 127.0.0.1 and ports the OS had free (in
// cluster mode with cluster set), stops it when the test ends, and waits
// until it answers PING. A server that exits before answering (a port taken
// since it was found free) is tried again on other ports, three times in
// all.
func start(tb testing.TB, bin string, cluster bool, nodeTimeout time.Duration) server {
	tb.Helper()
	for attempt := 1; ; attempt++ {
		port := freePort(tb)
		dir := tb.TempDir()
		args := []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port),
			"--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "yes"}
		srv := server{addr: "127.0.0.1:" + strconv.Itoa(port)}
		if cluster {
			srv.bus = freePort(tb)
			args = append(args, "--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(srv.bus),
				"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", strconv.Itoa(int(nodeTimeout/time.Millisecond)),
				"--repl-diskless-sync-delay", "0") // a replica syncs at once, not after 5 s
		}
		cmd := exec.Command(bin, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			tb.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		srv.kill = func() {
			cmd.Process.Kill()
			<-done
		}
		tb.Cleanup(srv.kill)
		srv.client = goredis.NewClient(&goredis.Options{Addr: srv.addr, MaxRetries: -1})
		tb.Cleanup(func() { srv.client.Close() })
		if answered(tb, srv, done) {
			return srv
		}
		if attempt == 3 {
			tb.Fatalf("redis-server on %s exited: %v\n%s", srv.addr, cmd.ProcessState, out.String())
		}
	}
}

// answered waits until srv answers PING (true) or its process ends (false),
// failing the test after Wait.
func answered(tb testing.TB, srv server, exited chan struct{}) bool {
	tb.Helper()
	deadline := time.Now().Add(Wait)
	for {
		select {
		case <-exited:
			return false
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := srv.client.Ping(ctx).Err()
		cancel()
		if err == nil {
			return true
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redis-server on %s did not answer within %v: %v", srv.addr, Wait, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Start starts one redis-server and returns its address, host:port.
func Start(tb testing.TB, bin string) string {
	tb.Helper()
	return start(tb, bin, false, 0).addr
}

// StartCluster starts masters redis-servers in cluster mode (each with a
// client port and a cluster bus port the OS had free), gives each an equal
// share of the 16384 slots in order (the first master the lowest), joins
// them with CLUSTER MEET and waits until every one reports
// cluster_state:ok, knows every other and every slot's owner. It returns
// the masters' addresses, host:port, in slot order.
func StartCluster(tb testing.TB, bin string, masters int) []string {
	tb.Helper()
	return startCluster(tb, bin, masters, false, 5*time.Second).Masters
}

// Cluster is a Redis Cluster with a replica per master (StartReplicated).
type Cluster struct {
	Masters  []string // in slot order
	Replicas []string // Replicas[i] replicates Masters[i]
	servers  map[string]server
}

// Kill stops the server at addr at once (SIGKILL), as a crash would.
func (c *Cluster) Kill(addr string) { c.servers[addr].kill() }

// Role returns the role ("master", "slave") the server at addr reports.
func (c *Cluster) Role(addr string) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r, err := c.servers[addr].client.Do(ctx, "ROLE").Slice()
	if err != nil || len(r) == 0 {
		return ""
	}
	role, _ := r[0].(string)
	return role
}

// StartReplicated is StartCluster with a replica for each master (CLUSTER
// REPLICATE) and a cluster node timeout of 1 s, so that a replica takes
// over within seconds when its master is killed. It waits until every
// replica's link to its master is up.
func StartReplicated(tb testing.TB, bin string, masters int) *Cluster {
	tb.Helper()
	return startCluster(tb, bin, masters, true, time.Second)
}

func startCluster(tb testing.TB, bin string, masters int, replicas bool, nodeTimeout time.Duration) *Cluster {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	c := &Cluster{servers: make(map[string]server)}
	n := masters
	if replicas {
		n *= 2
	}
	var all []server
	for i := range n {
		srv := start(tb, bin, true, nodeTimeout)
		all = append(all, srv)
		c.servers[srv.addr] = srv
		if i < masters {
			c.Masters = append(c.Masters, srv.addr)
		} else {
			c.Replicas = append(c.Replicas, srv.addr)
		}
	}
	for i, srv := range all[:masters] {
		lo, hi := i*16384/masters, (i+1)*16384/masters-1
		if err := srv.client.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			tb.Fatalf("CLUSTER ADDSLOTSRANGE %d %d on %s: %v", lo, hi, srv.addr, err)
		}
	}
	for _, srv := range all[1:] {
		_, port, _ := net.SplitHostPort(srv.addr)
		if err := all[0].client.Do(ctx, "CLUSTER", "MEET", "127.0.0.1", port, srv.bus).Err(); err != nil {
			tb.Fatalf("CLUSTER MEET %s: %v", srv.addr, err)
		}
	}
	for i, srv := range all[masters:] {
		id, err := all[i].client.Do(ctx, "CLUSTER", "MYID").Text()
		if err != nil {
			tb.Fatal(err)
		}
		// The replica must have heard of its master first (gossip).
		waitFor(tb, srv.addr+" to replicate "+all[i].addr, func() bool {
			return srv.client.Do(ctx, "CLUSTER", "REPLICATE", id).Err() == nil
		})
	}
	waitFor(tb, "the Redis Cluster to form (cluster_state:ok on every node)", func() bool {
		for _, srv := range all {
			info, err := srv.client.ClusterInfo(ctx).Result()
			if err != nil || !strings.Contains(info, "cluster_state:ok") ||
				!strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(n)+"\r") {
				return false
			}
			shards, err := srv.client.ClusterShards(ctx).Result()
			if err != nil || len(shards) != masters {
				return false
			}
			for _, sh := range shards {
				if len(sh.Slots) == 0 || len(sh.Nodes) != n/masters {
					return false
				}
			}
		}
		// Replicas in sync (CLUSTER SHARDS says "loading" for a replica
		// until its master has written something).
		for _, srv := range all[masters:] {
			info, err := srv.client.Info(ctx, "replication").Result()
			if err != nil || !strings.Contains(info, "master_link_status:up") {
				return false
			}
		}
		return true
	})
	return c
}

// Owner returns which of addrs, as StartCluster returned them, owns slot.
func Owner(addrs []string, slot int) string {
	m := len(addrs)
	for i := range m {
		if slot <= (i+1)*16384/m-1 {
			return addrs[i]
		}
	}
	return ""
}
