// Command bench runs the WebSocket server benchmark: it builds every server
// and the load generator once, then for each workload runs interleaved rounds
// (A B C … C B A …), each trial a fresh server process pinned to CPU 0 and a
// generator pinned to CPU 1, and prints a markdown table of the medians with
// each target's ratio to the best peer.
//
//	cd bench && go run ./cmd/bench -rounds 3 -duration 3s -targets all -workloads all
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Targets, in table order. Peers are every target but tcp, wsserver and
// command. command is the wsserver command (cmd/wsserver) started as users
// start it; wsserver is the tuned library server of servers/wsserver.
var allTargets = []string{"tcp", "wsserver", "command", "gorilla", "coder", "gobwas", "gws", "nbio"}

func isPeer(t string) bool {
	return t != "tcp" && t != "wsserver" && t != "wsserver-base" && t != "command"
}

// baseTarget is servers/wsserver built against the library in -base (the
// code before a change), run beside wsserver for a before/after table.
const baseTarget = "wsserver-base"

// commandPkg is the wsserver command, built from the workspace (go.work).
const commandPkg = "github.com/wsserver/wsserver/cmd/wsserver"

// Metric kinds.
const (
	mMsgs  = "msgs/s"
	mLat   = "p50 µs"
	mRSS   = "RSS/conn"
	mBcast = "ms"
)

type workload struct {
	key      string
	title    string
	mode     string // echo, idle, broadcast
	conns    int
	inflight int
	size     int
	deflate  bool
	metric   string
	vsTCP    bool // also report msgs/s relative to raw TCP
}

func workloads(idleConns, bcastConns int) []workload {
	return []workload{
		{key: "latency", title: "latency: 1 conn, 16 B, 1 in flight", mode: "echo", conns: 1, inflight: 1, size: 16, metric: mLat},
		{key: "64x1k", title: "64 conns, 1 KiB, 8 in flight", mode: "echo", conns: 64, inflight: 8, size: 1 << 10, metric: mMsgs},
		{key: "1000x1k", title: "1000 conns, 1 KiB", mode: "echo", conns: 1000, inflight: 1, size: 1 << 10, metric: mMsgs},
		{key: "64x64k", title: "64 conns, 64 KiB", mode: "echo", conns: 64, inflight: 1, size: 64 << 10, metric: mMsgs},
		{key: "8x1m", title: "8 conns, 1 MiB", mode: "echo", conns: 8, inflight: 1, size: 1 << 20, metric: mMsgs, vsTCP: true},
		{key: "z64x1k", title: "deflate: 64 conns, 1 KiB text, 8 in flight", mode: "echo", conns: 64, inflight: 8, size: 1 << 10, deflate: true, metric: mMsgs},
		{key: "z64x64k", title: "deflate: 64 conns, 64 KiB text", mode: "echo", conns: 64, inflight: 1, size: 64 << 10, deflate: true, metric: mMsgs},
		{key: "z8x1m", title: "deflate: 8 conns, 1 MiB text", mode: "echo", conns: 8, inflight: 1, size: 1 << 20, deflate: true, metric: mMsgs},
		{key: "idle", title: fmt.Sprintf("%d idle conns: server RSS per conn", idleConns), mode: "idle", conns: idleConns, size: 1, metric: mRSS},
		{key: "broadcast", title: fmt.Sprintf("broadcast 64 B to %d conns: time until all received", bcastConns), mode: "broadcast", conns: bcastConns, size: 64, metric: mBcast},
	}
}

var (
	flagRounds    = flag.Int("rounds", 5, "rounds per workload (interleaved A B C … C B A)")
	flagDuration  = flag.Duration("duration", 2*time.Second, "measured time per echo trial (and budget per broadcast trial)")
	flagTargets   = flag.String("targets", "all", "comma-separated targets, or all: "+strings.Join(allTargets, ","))
	flagWorkloads = flag.String("workloads", "all", "comma-separated workloads, or all (see -list)")
	flagIdle      = flag.Int("idle-conns", 10000, "connections of the idle workload")
	flagBcast     = flag.Int("bcast-conns", 10000, "connections of the broadcast workload")
	flagList      = flag.Bool("list", false, "list the workloads and exit")
	flagOut       = flag.String("out", "", "also write the markdown report to this file")
	flagJSON      = flag.String("json", "", "write every trial's raw result to this file")
	flagVerbose   = flag.Bool("v", false, "print every trial")
	flagKeep      = flag.Bool("keep", false, "keep the build directory and server logs")
	flagNoPin     = flag.Bool("nopin", false, "do not pin server and generator to CPUs 0 and 1")
	flagBase      = flag.String("base", "", "also run target wsserver-base, servers/wsserver built against the library in this directory (another commit's tree: git archive COMMIT | tar -x -C DIR), beside wsserver for a before/after table")
)

// Result mirrors the loadgen's JSON output.
type Result struct {
	Msgs      int64   `json:"msgs"`
	MsgsPerS  float64 `json:"msgs_per_s"`
	LatP50us  float64 `json:"lat_p50_us"`
	LatP99us  float64 `json:"lat_p99_us"`
	RSSPerCon float64 `json:"rss_per_conn_bytes"`
	BcastMs   float64 `json:"bcast_median_ms"`
	BcastN    int     `json:"bcast_count"`
	SetupS    float64 `json:"setup_s"`
	Inflated  int64   `json:"inflated"`
	GenCPU    float64 `json:"gen_cpu"`
	SrvCPU    float64 `json:"srv_cpu"`
	Error     string  `json:"error"`
}

type trial struct {
	Workload string  `json:"workload"`
	Target   string  `json:"target"`
	Round    int     `json:"round"`
	Value    float64 `json:"value"`
	Pressure float64 `json:"cpu_pressure"` // share of the trial some task waited for a CPU
	Result   Result  `json:"result"`
	Err      string  `json:"err,omitempty"`
}

func (w workload) value(r Result) float64 {
	switch w.metric {
	case mLat:
		return r.LatP50us
	case mRSS:
		return r.RSSPerCon
	case mBcast:
		return r.BcastMs
	}
	return r.MsgsPerS
}

func main() {
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("bench: ")
	wls := workloads(*flagIdle, *flagBcast)
	if *flagList {
		for _, w := range wls {
			fmt.Printf("%-10s %s\n", w.key, w.title)
		}
		return
	}
	targets, err := pick(*flagTargets, allTargets)
	if err != nil {
		log.Fatal(err)
	}
	if *flagBase != "" {
		// Right after wsserver, so that the two alternate in every round.
		i := slices.Index(targets, "wsserver") + 1
		targets = slices.Insert(targets, i, baseTarget)
	}
	var keys []string
	for _, w := range wls {
		keys = append(keys, w.key)
	}
	sel, err := pick(*flagWorkloads, keys)
	if err != nil {
		log.Fatal(err)
	}
	wls = slices.DeleteFunc(wls, func(w workload) bool { return !slices.Contains(sel, w.key) })
	if *flagRounds < 1 || *flagRounds > 50 {
		log.Fatal("-rounds must be within 1..50")
	}
	raiseNoFile()
	checkConnLimit(wls)

	dir, err := os.MkdirTemp("", "wsbench-")
	if err != nil {
		log.Fatal(err)
	}
	if *flagKeep {
		log.Printf("build dir and logs: %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	targets = build(dir, targets)
	if len(targets) == 0 {
		log.Fatal("no target built")
	}

	start, press0 := time.Now(), cpuPressure()
	var trials []trial
	for _, w := range wls {
		log.Printf("workload %s: %s", w.key, w.title)
		for r := 0; r < *flagRounds; r++ {
			order := slices.Clone(targets)
			if r%2 == 1 {
				slices.Reverse(order)
			}
			for _, t := range order {
				if t == "tcp" && w.deflate {
					continue
				}
				tr := runTrial(dir, w, t, r)
				trials = append(trials, tr)
				if *flagVerbose || tr.Err != "" {
					printTrial(tr)
				}
			}
		}
	}
	pressure := -1.0
	if press0 >= 0 {
		pressure = (cpuPressure() - press0) / time.Since(start).Seconds()
	}
	report := render(wls, targets, trials, time.Since(start), pressure)
	fmt.Print(report)
	if *flagOut != "" {
		if err := os.WriteFile(*flagOut, []byte(report), 0o644); err != nil {
			log.Print(err)
		}
	}
	if *flagJSON != "" {
		b, _ := json.MarshalIndent(trials, "", "  ")
		if err := os.WriteFile(*flagJSON, b, 0o644); err != nil {
			log.Print(err)
		}
	}
}

func pick(arg string, all []string) ([]string, error) {
	if arg == "all" {
		return slices.Clone(all), nil
	}
	var out []string
	for _, s := range strings.Split(arg, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(all, s) {
			return nil, fmt.Errorf("unknown %q (choose from %s)", s, strings.Join(all, ","))
		}
		out = append(out, s)
	}
	return out, nil
}

func raiseNoFile() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

// checkConnLimit refuses workloads that need more sockets than a process may
// open (the generator and the server each hold one per connection).
func checkConnLimit(wls []workload) {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		return
	}
	for _, w := range wls {
		if uint64(w.conns)+64 > l.Max {
			log.Fatalf("workload %s needs %d connections; the open-files hard limit is %d (lower -idle-conns / -bcast-conns)", w.key, w.conns, l.Max)
		}
	}
}

// moduleDir returns the bench module's directory.
func moduleDir() string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		log.Fatalf("go env GOMOD: %v", err)
	}
	mod := strings.TrimSpace(string(out))
	b, err := os.ReadFile(mod)
	if err != nil || !bytes.Contains(b, []byte("module github.com/wsserver/wsserver/bench\n")) {
		log.Fatalf("run from inside the bench module (found go.mod %q)", mod)
	}
	return filepath.Dir(mod)
}

// build compiles the load generator and each target's server into dir and
// returns the targets that built.
func build(dir string, targets []string) []string {
	mdir := moduleDir()
	gobuild := func(pkg string) error {
		cmd := exec.Command("go", "build", "-o", dir+string(os.PathSeparator), pkg)
		cmd.Dir = mdir
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v\n%s", err, out)
		}
		return nil
	}
	log.Printf("building into %s", dir)
	if err := gobuild("./cmd/loadgen"); err != nil {
		log.Fatalf("build loadgen: %v", err)
	}
	var ok []string
	for _, t := range targets {
		pkg := "./servers/" + t
		if t == baseTarget {
			if err := buildBase(dir, mdir); err != nil {
				log.Printf("target %s does not build, skipped: %v", t, err)
				continue
			}
			ok = append(ok, t)
			continue
		}
		if t == "command" {
			// The command's package is named after its directory: build it
			// to dir/command.
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "command"), commandPkg)
			cmd.Dir = mdir
			if out, err := cmd.CombinedOutput(); err != nil {
				log.Printf("target command does not build (is go.work in use?), skipped: %v\n%s", err, out)
				continue
			}
			ok = append(ok, t)
			continue
		}
		if err := gobuild(pkg); err != nil {
			log.Printf("target %s does not build, skipped: %v", t, err)
			continue
		}
		ok = append(ok, t)
	}
	return ok
}

// buildBase builds servers/wsserver into dir/wsserver-base against the
// library in -base: with a copy of bench's go.mod whose replace points
// there, outside the workspace.
func buildBase(dir, mdir string) error {
	base, err := filepath.Abs(*flagBase)
	if err != nil {
		return err
	}
	mod, err := os.ReadFile(filepath.Join(mdir, "go.mod"))
	if err != nil {
		return err
	}
	const lib = "replace github.com/wsserver/wsserver => ../\n"
	if !bytes.Contains(mod, []byte(lib)) {
		return fmt.Errorf("bench's go.mod has no %q", lib)
	}
	mod = bytes.Replace(mod, []byte(lib), []byte("replace github.com/wsserver/wsserver => "+base+"\n"), 1)
	mod = bytes.ReplaceAll(mod, []byte("=> ../"), []byte("=> "+filepath.Dir(mdir)+"/"))
	modfile := filepath.Join(dir, "base.mod")
	if err := os.WriteFile(modfile, mod, 0o644); err != nil {
		return err
	}
	sum, err := os.ReadFile(filepath.Join(mdir, "go.sum"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "base.sum"), sum, 0o644); err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-modfile="+modfile, "-o", filepath.Join(dir, baseTarget), "./servers/wsserver")
	cmd.Dir = mdir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v\n%s", err, out)
	}
	return nil
}

func pinned(cpu string, name string, args ...string) *exec.Cmd {
	if *flagNoPin {
		return exec.Command(name, args...)
	}
	return exec.Command("taskset", append([]string{"-c", cpu, name}, args...)...)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// server is one running server process.
type server struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

// startServer starts target t and waits (bounded) until it listens.
func startServer(dir, t string, w workload, logf io.Writer) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	mode := "echo"
	if w.mode == "broadcast" {
		mode = "broadcast"
	}
	args := []string{"-addr", fmt.Sprintf("127.0.0.1:%d", port), "-mode", mode}
	if w.deflate {
		args = append(args, "-deflate")
	}
	if t == "command" {
		// As a user starts it, with the limit lifted and the logs quiet (a
		// log line per connection would measure the terminal).
		args = []string{"--host", "127.0.0.1", "--port", fmt.Sprint(port), "--max-connections", "100000",
			"--stats", "0", "--log-level", "none"}
		if w.deflate {
			args = append(args, "--config", "EnablePermessageDeflate=true")
		}
		args = append(args, mode)
	}
	cmd := pinned("0", filepath.Join(dir, t), args...)
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, done: make(chan struct{})}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			// The command prints "  WebSocket: ws://127.0.0.1:PORT/ws".
			if u, ok := strings.CutPrefix(strings.TrimSpace(line), "WebSocket: ws://"); ok {
				line = "listening " + strings.TrimSuffix(u, "/ws")
			}
			if a, ok := strings.CutPrefix(line, "listening "); ok {
				select {
				case ready <- a:
				default:
				}
			}
		}
		io.Copy(logf, out)
	}()
	go func() {
		cmd.Wait()
		close(s.done)
	}()
	select {
	case a := <-ready:
		s.addr = a
	case <-s.done:
		return nil, errors.New("server exited before listening")
	case <-time.After(15 * time.Second):
		s.stop()
		return nil, errors.New("server did not listen within 15s")
	}
	if strings.HasSuffix(s.addr, ":0") || !strings.HasPrefix(s.addr, "127.") {
		s.addr = fmt.Sprintf("127.0.0.1:%d", port)
	}
	// It announced its listener; one connect proves it accepts.
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if i == 50 {
			s.stop()
			return nil, fmt.Errorf("server does not accept on %s: %v", s.addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s, nil
}

func (s *server) alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// stop kills the server by its PID and waits for it to be gone.
func (s *server) stop() {
	s.cmd.Process.Kill()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		log.Printf("server pid %d did not exit after SIGKILL", s.cmd.Process.Pid)
	}
}

func runTrial(dir string, w workload, t string, round int) (tr trial) {
	tr = trial{Workload: w.key, Target: t, Round: round + 1}
	logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%s-r%d.log", w.key, t, round+1)))
	if err != nil {
		tr.Err = err.Error()
		return
	}
	defer logf.Close()
	s, err := startServer(dir, t, w, logf)
	if err != nil {
		tr.Err = err.Error()
		return
	}
	defer func() {
		if tr.Err == "" && !s.alive() {
			tr.Err = "server died during the trial"
		}
		s.stop()
		// Let the kernel finish with the sockets before the next trial.
		time.Sleep(200 * time.Millisecond)
	}()

	proto := "ws"
	if t == "tcp" {
		proto = "raw"
	}
	args := []string{
		"-addr", s.addr, "-proto", proto, "-mode", w.mode,
		"-conns", fmt.Sprint(w.conns), "-size", fmt.Sprint(w.size),
		"-duration", flagDuration.String(), "-pid", fmt.Sprint(s.cmd.Process.Pid),
	}
	if w.inflight > 0 {
		args = append(args, "-inflight", fmt.Sprint(w.inflight))
	}
	if w.deflate {
		args = append(args, "-deflate")
	}
	if t == "command" && w.mode == "broadcast" {
		args = append(args, "-bcast-others") // the command's broadcast skips the sender
	}
	budget := *flagDuration + 60*time.Second + time.Duration(w.conns)*3*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	g := pinned("1", filepath.Join(dir, "loadgen"), args...)
	gctx := exec.CommandContext(ctx, g.Path, g.Args[1:]...)
	var stdout bytes.Buffer
	gctx.Stdout = &stdout
	gctx.Stderr = logf
	p0, t0 := cpuPressure(), time.Now()
	gerr := gctx.Run()
	if p0 >= 0 {
		tr.Pressure = (cpuPressure() - p0) / time.Since(t0).Seconds()
	}
	var res Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		if gerr == nil {
			gerr = err
		}
		tr.Err = fmt.Sprintf("loadgen: %v", gerr)
		return
	}
	tr.Result = res
	if res.Error != "" {
		tr.Err = res.Error
		return
	}
	if gerr != nil {
		tr.Err = fmt.Sprintf("loadgen: %v", gerr)
		return
	}
	tr.Value = w.value(res)
	return
}

func printTrial(tr trial) {
	r := tr.Result
	if tr.Err != "" {
		log.Printf("  r%d %-9s ERROR %s", tr.Round, tr.Target, tr.Err)
		return
	}
	log.Printf("  r%d %-9s %12.1f  (msgs/s %.0f, p99 %.1fµs, setup %.2fs, cpu gen %.2f srv %.2f, inflated %d, cpu pressure %.0f%%)",
		tr.Round, tr.Target, tr.Value, r.MsgsPerS, r.LatP99us, r.SetupS, r.GenCPU, r.SrvCPU, r.Inflated, 100*tr.Pressure)
}

// cpuPressure returns the kernel's cumulative CPU "some" pressure stall time
// in seconds, or -1 where PSI is not available.
func cpuPressure() float64 {
	b, err := os.ReadFile("/proc/pressure/cpu")
	if err != nil {
		return -1
	}
	for _, f := range strings.Fields(string(b)) {
		if v, ok := strings.CutPrefix(f, "total="); ok {
			var us float64
			if _, err := fmt.Sscan(v, &us); err == nil {
				return us / 1e6
			}
			break
		}
	}
	return -1
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	var u syscall.Utsname
	kernel := ""
	if syscall.Uname(&u) == nil {
		var b []byte
		for _, c := range u.Release {
			if c == 0 {
				break
			}
			b = append(b, byte(c))
		}
		kernel = string(b)
	}
	return fmt.Sprintf("%s, %d CPUs, Linux %s, %s", model, runtime.NumCPU(), kernel, runtime.Version())
}

// row is one line of the results table.
type row struct {
	w      workload
	metric string
	lower  bool // lower is better
	value  func(Result) float64
	vsTCP  bool // cells are ratios to raw TCP instead of values
}

func rows(wls []workload) []row {
	var rs []row
	for _, w := range wls {
		switch w.metric {
		case mLat:
			rs = append(rs,
				row{w: w, metric: "p50 µs", lower: true, value: func(r Result) float64 { return r.LatP50us }},
				row{w: w, metric: "p99 µs", lower: true, value: func(r Result) float64 { return r.LatP99us }})
		case mRSS:
			rs = append(rs, row{w: w, metric: "RSS/conn", lower: true, value: func(r Result) float64 { return r.RSSPerCon }},
				row{w: w, metric: "conns/s", value: func(r Result) float64 {
					// How fast the connections opened: the setup's rate.
					if r.SetupS <= 0 {
						return 0
					}
					return float64(w.conns) / r.SetupS
				}})
		case mBcast:
			rs = append(rs, row{w: w, metric: "ms", lower: true, value: func(r Result) float64 { return r.BcastMs }})
		default:
			rs = append(rs, row{w: w, metric: "msgs/s", value: func(r Result) float64 { return r.MsgsPerS }})
			if w.vsTCP {
				rs = append(rs, row{w: w, metric: "÷ raw TCP", vsTCP: true, value: func(r Result) float64 { return r.MsgsPerS }})
			}
		}
	}
	return rs
}

func (r row) format(v float64) string {
	switch r.metric {
	case "conns/s":
		return fmt.Sprintf("%.0f", v)
	case "msgs/s":
		switch {
		case v >= 1e6:
			return fmt.Sprintf("%.2fM", v/1e6)
		case v >= 1e4:
			return fmt.Sprintf("%.1fk", v/1e3)
		case v >= 100:
			return fmt.Sprintf("%.0f", v)
		}
		return fmt.Sprintf("%.1f", v)
	case "RSS/conn":
		return fmt.Sprintf("%.1f KiB", v/1024)
	case "ms":
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.1f µs", v)
}

func tableHead(b *strings.Builder, first string, targets []string) {
	fmt.Fprintf(b, "| %s |", first)
	for _, t := range targets {
		fmt.Fprintf(b, " %s |", t)
	}
	b.WriteString("\n|---|")
	if strings.Contains(first, "|") {
		b.WriteString("---|")
	}
	for range targets {
		b.WriteString("---|")
	}
	b.WriteString("\n")
}

// render builds the markdown report.
func render(wls []workload, targets []string, trials []trial, took time.Duration, pressure float64) string {
	// ok[w][t]: the successful trials; errs: the failed ones.
	ok := map[string]map[string][]Result{}
	var notes []string
	for _, tr := range trials {
		if tr.Err != "" {
			notes = append(notes, fmt.Sprintf("%s / %s / round %d: %s", tr.Workload, tr.Target, tr.Round, tr.Err))
			continue
		}
		if ok[tr.Workload] == nil {
			ok[tr.Workload] = map[string][]Result{}
		}
		ok[tr.Workload][tr.Target] = append(ok[tr.Workload][tr.Target], tr.Result)
	}
	failed := func(w, t string) bool {
		for _, tr := range trials {
			if tr.Workload == w && tr.Target == t && tr.Err != "" {
				return true
			}
		}
		return false
	}
	ran := func(w, t string) bool {
		for _, tr := range trials {
			if tr.Workload == w && tr.Target == t {
				return true
			}
		}
		return false
	}
	medOf := func(w, t string, f func(Result) float64) (float64, bool) {
		rs := ok[w][t]
		if len(rs) == 0 {
			return 0, false
		}
		var xs []float64
		for _, r := range rs {
			xs = append(xs, f(r))
		}
		return median(xs), true
	}
	var peers []string
	for _, t := range targets {
		if isPeer(t) {
			peers = append(peers, t)
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "\n## Results\n\n")
	fmt.Fprintf(&b, "%s UTC · %s · %d round(s) × %s · took %s",
		time.Now().UTC().Format("2006-01-02 15:04"), machine(), *flagRounds, *flagDuration, took.Round(time.Second))
	if pressure >= 0 {
		fmt.Fprintf(&b, " · CPU pressure %.0f%% (share of the time some task waited for a CPU: other load on this shared machine)", 100*pressure)
	}
	b.WriteString("\n\n")
	fmt.Fprintf(&b, "Median over rounds; `×r` is the ratio to the best peer (peers: %s). msgs/s: higher is better; µs, KiB, ms: lower is better.\n\n", strings.Join(peers, ", "))
	tableHead(&b, "workload | metric", targets)
	for _, r := range rows(wls) {
		w := r.w
		med := map[string]float64{}
		for _, t := range targets {
			if v, ok := medOf(w.key, t, r.value); ok {
				med[t] = v
			}
		}
		best, haveBest := 0.0, false
		for _, t := range peers {
			v, ok := med[t]
			if ok && (!haveBest || (r.lower && v < best) || (!r.lower && v > best)) {
				best, haveBest = v, true
			}
		}
		tcp, haveTCP := med["tcp"]
		if r.vsTCP && (!haveTCP || tcp <= 0) {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s |", w.title, r.metric)
		for _, t := range targets {
			v, have := med[t]
			switch {
			case !ran(w.key, t):
				b.WriteString(" — |")
			case !have:
				b.WriteString(" error |")
			case r.vsTCP:
				fmt.Fprintf(&b, " %.2f |", v/tcp)
			default:
				cell := r.format(v)
				if haveBest && best > 0 {
					cell += fmt.Sprintf(" ×%.2f", v/best)
				}
				if failed(w.key, t) {
					cell += " (!)"
				}
				fmt.Fprintf(&b, " %s |", cell)
			}
		}
		b.WriteString("\n")
	}

	if *flagRounds > 1 {
		b.WriteString("\nSpread across rounds of the main metric, (max − min) / median:\n\n")
		tableHead(&b, "workload", targets)
		for _, w := range wls {
			fmt.Fprintf(&b, "| %s |", w.key)
			for _, t := range targets {
				var xs []float64
				for _, r := range ok[w.key][t] {
					xs = append(xs, w.value(r))
				}
				if len(xs) == 0 || median(xs) == 0 {
					b.WriteString(" — |")
					continue
				}
				fmt.Fprintf(&b, " %.0f%% |", 100*(slices.Max(xs)-slices.Min(xs))/median(xs))
			}
			b.WriteString("\n")
		}
	}

	b.WriteString("\nCPU use in the measured window, generator / server (1.00 = one core), median over rounds:\n\n")
	tableHead(&b, "workload", targets)
	for _, w := range wls {
		if w.mode == "idle" {
			continue
		}
		fmt.Fprintf(&b, "| %s |", w.key)
		for _, t := range targets {
			g, okG := medOf(w.key, t, func(r Result) float64 { return r.GenCPU })
			s, _ := medOf(w.key, t, func(r Result) float64 { return r.SrvCPU })
			if !okG {
				b.WriteString(" — |")
				continue
			}
			fmt.Fprintf(&b, " %.2f / %.2f |", g, s)
		}
		b.WriteString("\n")
	}
	if len(notes) > 0 {
		b.WriteString("\nFailed trials:\n\n")
		for _, n := range notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}
