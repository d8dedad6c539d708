// Command loadgen drives one benchmark workload against one server and prints
// its result as one JSON object on stdout.
//
// It is built to cost less than the servers it measures: one goroutine runs an
// edge-triggered epoll loop over non-blocking sockets; every frame it sends is
// built (masked, and compressed where asked) once at start; echoes are parsed
// in place in one shared read buffer and byte-compared against the expected
// payload as they stream in, without copying.
//
// It is Linux-only and meant to be started by cmd/bench, pinned to its own CPU.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/wsserver/wsserver/bench/internal/wire"
)

// Result is what one loadgen run reports.
type Result struct {
	Mode      string  `json:"mode"`
	Conns     int     `json:"conns"`
	Msgs      int64   `json:"msgs"`
	Seconds   float64 `json:"seconds"`
	MsgsPerS  float64 `json:"msgs_per_s"`
	LatP50us  float64 `json:"lat_p50_us,omitempty"`
	LatP99us  float64 `json:"lat_p99_us,omitempty"`
	RSSBefore int64   `json:"rss_before_kib,omitempty"`
	RSSAfter  int64   `json:"rss_after_kib,omitempty"`
	RSSPerCon float64 `json:"rss_per_conn_bytes,omitempty"`
	BcastMs   float64 `json:"bcast_median_ms,omitempty"`
	BcastMax  float64 `json:"bcast_max_ms,omitempty"`
	BcastN    int     `json:"bcast_count,omitempty"`
	Pongs     int     `json:"pongs,omitempty"`  // idle -ping: connections that answered
	PongS     float64 `json:"pong_s,omitempty"` // idle -ping: seconds until the last pong (or the wait's end)
	SetupS    float64 `json:"setup_s"`
	Inflated  int64   `json:"inflated,omitempty"`
	GenCPU    float64 `json:"gen_cpu"`
	SrvCPU    float64 `json:"srv_cpu"`
	Error     string  `json:"error,omitempty"`
}

var (
	flagAddr        = flag.String("addr", "127.0.0.1:8080", "server address ip:port")
	flagProto       = flag.String("proto", "ws", "ws or raw (plain TCP echo)")
	flagMode        = flag.String("mode", "echo", "echo, idle or broadcast")
	flagConns       = flag.Int("conns", 1, "connections")
	flagInflight    = flag.Int("inflight", 1, "messages in flight per connection (echo)")
	flagSize        = flag.Int("size", 16, "payload bytes per message")
	flagDeflate     = flag.Bool("deflate", false, "negotiate permessage-deflate and send compressed text")
	flagDuration    = flag.Duration("duration", 3*time.Second, "measured time (echo, broadcast)")
	flagWarmup      = flag.Duration("warmup", 300*time.Millisecond, "unmeasured time before measuring (echo)")
	flagPID         = flag.Int("pid", 0, "server PID, for RSS and CPU readings")
	flagSrcAddrs    = flag.Int("src-addrs", 4, "spread client sockets over 127.0.0.2 .. 127.0.0.(1+N)")
	flagHSPar       = flag.Int("handshake-par", 128, "connection setups in progress at once")
	flagBcastMax    = flag.Int("bcast-count", 20, "at most this many broadcasts")
	flagBcastOthers = flag.Bool("bcast-others", false, "broadcast: the server sends each message to every connection but its sender (the wsserver command's broadcast mode)")
	flagSettle      = flag.Duration("settle", time.Second, "wait before reading RSS (idle)")
	flagPing        = flag.Bool("ping", false, "idle: after reading RSS, ping every connection once and count the pongs (waiting up to -ping-wait)")
	flagPingWait    = flag.Duration("ping-wait", 10*time.Second, "idle -ping: how long to wait for every pong")
	flagProfile     = flag.String("cpuprofile", "", "write the generator's CPU profile here")
)

func main() {
	flag.Parse()
	runtime.GOMAXPROCS(1)
	raiseNoFile()
	if *flagProfile != "" {
		f, err := os.Create(*flagProfile)
		if err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	res := run()
	json.NewEncoder(os.Stdout).Encode(res)
	if res.Error != "" {
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// raiseNoFile lifts the soft open-files limit to the hard one.
func raiseNoFile() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

func run() (res Result) {
	res.Mode = *flagMode
	res.Conns = *flagConns
	g, err := newGen()
	if err != nil {
		res.Error = err.Error()
		return
	}
	defer g.closeAll()

	var rssBefore int64
	if *flagMode == "idle" && *flagPID > 0 {
		rssBefore, _ = readRSS(*flagPID)
	}
	t0 := time.Now()
	if err := g.setup(); err != nil {
		res.Error = "setup: " + err.Error()
		return
	}
	res.SetupS = time.Since(t0).Seconds()

	switch *flagMode {
	case "echo":
		err = g.echo(&res)
	case "idle":
		time.Sleep(*flagSettle)
		if err = g.pollCheck(); err != nil {
			break
		}
		if *flagPID > 0 {
			after, e := readRSS(*flagPID)
			if e != nil {
				err = e
				break
			}
			res.RSSBefore, res.RSSAfter = rssBefore, after
			res.RSSPerCon = float64(after-rssBefore) * 1024 / float64(g.n)
		}
		if *flagPing {
			err = g.pingAll(&res)
		}
	case "broadcast":
		err = g.broadcast(&res)
	default:
		err = fmt.Errorf("unknown mode %q", *flagMode)
	}
	if err != nil {
		res.Error = err.Error()
	}
	res.Inflated = g.inflated
	return
}

// Connection states.
const (
	stConnecting = iota
	stHandshake
	stOpen
	stClosed
)

type conn struct {
	fd    int
	state uint8
	hs    []byte // handshake response bytes gathered so far

	// Frame parser state; the frame data itself is never copied.
	hdr        [14]byte
	hdrN       int
	needHdr    bool
	frameLeft  int
	ctrl       bool // current frame is a control frame
	ctrlOp     byte
	fin        bool
	inMsg      bool
	compressed bool
	msgOff     int // bytes of the current message payload seen so far
	diverged   bool
	zbuf       []byte // a compressed echo that differs from the known ones
	variant    int

	// Sending: outPending bytes still to write from the cyclic frame buffer,
	// starting at outPos within one frame.
	outPending int
	outPos     int
	sentAt     int64 // monotonic ns of the last send (latency mode)
	written    int64 // bytes written so far
	msgs       int64 // complete, verified echoes received
	pongs      int   // pongs received (idle -ping)
}

type gen struct {
	n       int
	raw     bool
	deflate bool
	host    string
	srvIP   [4]byte
	srvPort int
	req     []byte

	payload []byte // what every echo must carry (uncompressed)
	frame   []byte // what is sent for one message
	cyc     []byte // frame repeated, so pending sends are one write
	// Compressed forms of payload seen from the server, verified once by
	// inflating; further echoes are compared to them byte for byte.
	variants [][]byte
	inflater wire.Inflater
	inflated int64

	epfd   int
	conns  []conn
	events []syscall.EpollEvent
	rbuf   []byte
	base   time.Time

	// setup progress
	opened, started, inProgress int

	latency bool
	lat     []int64

	// broadcast: messages each connection must receive; remaining receivers
	bcastWant int64
	bcastLeft int

	pongsLeft int // idle -ping: connections whose pong has not come

	firstErr error
}

func newGen() (*gen, error) {
	g := &gen{n: *flagConns, raw: *flagProto == "raw", deflate: *flagDeflate, base: time.Now()}
	if g.n < 1 || *flagInflight < 1 || *flagSize < 1 {
		return nil, errors.New("conns, inflight and size must be positive")
	}
	if g.raw && g.deflate {
		return nil, errors.New("raw TCP has no deflate")
	}
	ip, port, err := parseAddr(*flagAddr)
	if err != nil {
		return nil, err
	}
	g.srvIP, g.srvPort, g.host = ip, port, *flagAddr
	g.req = wire.HandshakeRequest(g.host, g.deflate)
	switch {
	case g.raw:
		g.payload = wire.BinaryPayload(*flagSize)
		g.frame = g.payload
	case g.deflate:
		g.payload = wire.TextPayload(*flagSize)
		g.frame = wire.ClientFrame(wire.OpText, true, wire.Compress(g.payload))
	default:
		g.payload = wire.BinaryPayload(*flagSize)
		g.frame = wire.ClientFrame(wire.OpBinary, false, g.payload)
	}
	reps := *flagInflight + 1
	if *flagMode != "echo" {
		reps = 1
	}
	g.cyc = make([]byte, 0, reps*len(g.frame))
	for range reps {
		g.cyc = append(g.cyc, g.frame...)
	}
	rb := 256 << 10
	g.rbuf = make([]byte, rb)
	g.latency = *flagMode == "echo" && g.n == 1 && *flagInflight == 1
	g.epfd, err = syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	g.conns = make([]conn, g.n)
	for i := range g.conns {
		g.conns[i].fd = -1
	}
	g.events = make([]syscall.EpollEvent, 512)
	return g, nil
}

func parseAddr(s string) (ip [4]byte, port int, err error) {
	var a, b, c, d int
	if _, err = fmt.Sscanf(s, "%d.%d.%d.%d:%d", &a, &b, &c, &d, &port); err != nil {
		return ip, 0, fmt.Errorf("addr %q: want ipv4:port", s)
	}
	return [4]byte{byte(a), byte(b), byte(c), byte(d)}, port, nil
}

func (g *gen) now() int64 { return int64(time.Since(g.base)) }

func (g *gen) fail(err error) {
	if g.firstErr == nil {
		g.firstErr = err
	}
}

// ipBindAddressNoPort defers the choice of the local port to connect(), where
// the kernel only needs the 4-tuple to be unique.
const ipBindAddressNoPort = 24

func (g *gen) dial(i int) error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	syscall.SetsockoptInt(fd, syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
	src := &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, byte(2 + i%*flagSrcAddrs)}}
	if err := syscall.Bind(fd, src); err != nil {
		syscall.Close(fd)
		return fmt.Errorf("bind %v: %w", src.Addr, err)
	}
	err = syscall.Connect(fd, &syscall.SockaddrInet4{Addr: g.srvIP, Port: g.srvPort})
	if err != nil && err != syscall.EINPROGRESS {
		syscall.Close(fd)
		return fmt.Errorf("connect: %w", err)
	}
	c := &g.conns[i]
	c.fd, c.state, c.needHdr = fd, stConnecting, true
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLOUT | syscall.EPOLLRDHUP | (1 << 31), Fd: int32(i)}
	if err := syscall.EpollCtl(g.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		syscall.Close(fd)
		c.fd = -1
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	return nil
}

// setup opens all connections, with at most -handshake-par in progress.
func (g *gen) setup() error {
	limit := time.Now().Add(30*time.Second + time.Duration(g.n)*2*time.Millisecond)
	for g.opened < g.n {
		for g.started < g.n && g.inProgress < *flagHSPar {
			if err := g.dial(g.started); err != nil {
				return err
			}
			g.started++
			g.inProgress++
		}
		if err := g.poll(20); err != nil {
			return err
		}
		if time.Now().After(limit) {
			return fmt.Errorf("only %d of %d connections opened in time", g.opened, g.n)
		}
	}
	return nil
}

// poll waits up to ms milliseconds for events and handles them.
func (g *gen) poll(ms int) error {
	n, err := syscall.EpollWait(g.epfd, g.events, ms)
	if err != nil && err != syscall.EINTR {
		return err
	}
	for _, ev := range g.events[:max(n, 0)] {
		c := &g.conns[ev.Fd]
		if c.state == stClosed {
			continue
		}
		if ev.Events&(syscall.EPOLLERR) != 0 {
			e, _ := syscall.GetsockoptInt(c.fd, syscall.SOL_SOCKET, syscall.SO_ERROR)
			g.fail(fmt.Errorf("conn %d: socket error %v", ev.Fd, syscall.Errno(e)))
			g.drop(c)
			continue
		}
		if c.state == stConnecting {
			if ev.Events&syscall.EPOLLOUT == 0 {
				continue
			}
			if g.raw {
				c.state = stOpen
				g.opened++
				g.inProgress--
			} else {
				c.state = stHandshake
				if w, err := syscall.Write(c.fd, g.req); err != nil || w != len(g.req) {
					g.fail(fmt.Errorf("conn %d: handshake write: %v", ev.Fd, err))
					g.drop(c)
					continue
				}
			}
		}
		if ev.Events&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP) != 0 {
			g.readable(c, int(ev.Fd))
		}
		if c.state == stOpen && c.outPending > 0 {
			g.flush(c, int(ev.Fd))
		}
	}
	return g.firstErr
}

// pollCheck handles whatever arrived without waiting (idle mode: nothing may).
func (g *gen) pollCheck() error { return g.poll(0) }

func (g *gen) drop(c *conn) {
	if c.state == stClosed {
		return
	}
	if c.state != stOpen {
		g.inProgress--
	}
	c.state = stClosed
	syscall.Close(c.fd)
}

func (g *gen) readable(c *conn, idx int) {
	for c.state != stClosed {
		n, err := rawRead(c.fd, g.rbuf)
		if n > 0 {
			if err := g.feed(c, idx, g.rbuf[:n]); err != nil {
				g.fail(fmt.Errorf("conn %d: %w", idx, err))
				g.drop(c)
				return
			}
			if n < len(g.rbuf) {
				// A short read drained the socket; with edge triggering any
				// later arrival raises a new event.
				return
			}
			continue
		}
		if err == syscall.EAGAIN {
			return
		}
		if err == syscall.EINTR {
			continue
		}
		if err == nil {
			err = errors.New("closed by server")
		}
		g.fail(fmt.Errorf("conn %d: %w", idx, err))
		g.drop(c)
		return
	}
}

// feed consumes bytes read from c.
func (g *gen) feed(c *conn, idx int, b []byte) error {
	if c.state == stHandshake {
		c.hs = append(c.hs, b...)
		n, err := wire.CheckResponse(c.hs, g.deflate)
		if err == wire.ErrIncomplete {
			return nil
		}
		if err != nil {
			return err
		}
		rest := c.hs[n:]
		c.hs = nil
		c.state = stOpen
		g.opened++
		g.inProgress--
		if len(rest) == 0 {
			return nil
		}
		b = rest
	}
	if g.raw {
		return g.feedRaw(c, b)
	}
	return g.feedWS(c, b)
}

// feedRaw checks a plain TCP echo stream: the payload over and over.
func (g *gen) feedRaw(c *conn, b []byte) error {
	p := g.payload
	for len(b) > 0 {
		k := min(len(b), len(p)-c.msgOff)
		if string(b[:k]) != string(p[c.msgOff:c.msgOff+k]) {
			return fmt.Errorf("echo differs at byte %d of a message", c.msgOff)
		}
		b = b[k:]
		c.msgOff += k
		if c.msgOff == len(p) {
			c.msgOff = 0
			if err := g.message(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// feedWS parses server frames in place and checks message payloads.
func (g *gen) feedWS(c *conn, b []byte) error {
	for len(b) > 0 {
		if c.needHdr {
			// Gather the header; usually it is whole inside b.
			var h []byte
			if c.hdrN == 0 && len(b) >= 2 && len(b) >= hdrLen(b[1]) {
				h = b[:hdrLen(b[1])]
				b = b[len(h):]
			} else {
				if c.hdrN < 2 {
					k := min(2-c.hdrN, len(b))
					copy(c.hdr[c.hdrN:], b[:k])
					c.hdrN += k
					b = b[k:]
					if c.hdrN < 2 {
						return nil
					}
				}
				want := hdrLen(c.hdr[1])
				k := min(want-c.hdrN, len(b))
				copy(c.hdr[c.hdrN:], b[:k])
				c.hdrN += k
				b = b[k:]
				if c.hdrN < want {
					return nil
				}
				h = c.hdr[:want]
				c.hdrN = 0
			}
			if err := g.header(c, h); err != nil {
				return err
			}
			if c.frameLeft == 0 {
				if err := g.frameDone(c); err != nil {
					return err
				}
			}
			continue
		}
		k := min(len(b), c.frameLeft)
		chunk := b[:k]
		b = b[k:]
		c.frameLeft -= k
		if !c.ctrl {
			if err := g.payloadChunk(c, chunk); err != nil {
				return err
			}
		}
		if c.frameLeft == 0 {
			if err := g.frameDone(c); err != nil {
				return err
			}
		}
	}
	return nil
}

func hdrLen(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

func (g *gen) header(c *conn, h []byte) error {
	if h[1]&0x80 != 0 {
		return errors.New("server frame is masked")
	}
	fin := h[0]&0x80 != 0
	rsv1 := h[0]&0x40 != 0
	op := h[0] & 0x0f
	if h[0]&0x30 != 0 {
		return errors.New("RSV2/RSV3 set")
	}
	var n uint64
	switch h[1] & 0x7f {
	case 126:
		n = uint64(h[2])<<8 | uint64(h[3])
	case 127:
		for _, x := range h[2:10] {
			n = n<<8 | uint64(x)
		}
	default:
		n = uint64(h[1] & 0x7f)
	}
	if n > 1<<30 {
		return fmt.Errorf("frame of %d bytes", n)
	}
	c.frameLeft = int(n)
	c.needHdr = false
	if op >= 8 {
		if !fin || n > 125 || rsv1 {
			return errors.New("bad control frame")
		}
		c.ctrl, c.ctrlOp = true, op
		return nil
	}
	c.ctrl = false
	c.fin = fin
	if op == wire.OpContinuation {
		if !c.inMsg {
			return errors.New("continuation without a message")
		}
		if rsv1 {
			return errors.New("RSV1 on a continuation frame")
		}
		return nil
	}
	if c.inMsg {
		return errors.New("new message inside a fragmented one")
	}
	want := byte(wire.OpBinary)
	if g.deflate {
		want = wire.OpText
	}
	if op != want {
		return fmt.Errorf("echo opcode %d, sent %d", op, want)
	}
	if rsv1 && !g.deflate {
		return errors.New("RSV1 without permessage-deflate")
	}
	c.inMsg, c.compressed, c.msgOff, c.diverged = true, rsv1, 0, false
	if rsv1 && len(g.variants) == 0 {
		c.diverged = true
		c.zbuf = c.zbuf[:0]
	}
	return nil
}

func (g *gen) payloadChunk(c *conn, b []byte) error {
	off := c.msgOff
	c.msgOff += len(b)
	if !c.compressed {
		p := g.payload
		if c.msgOff > len(p) || string(b) != string(p[off:c.msgOff]) {
			return fmt.Errorf("echo differs from the payload within bytes %d..%d", off, c.msgOff)
		}
		return nil
	}
	if !c.diverged {
		v := g.variants[c.variant]
		if c.msgOff <= len(v) && string(b) == string(v[off:c.msgOff]) {
			return nil
		}
		c.diverged = true
		c.zbuf = append(c.zbuf[:0], v[:off]...)
	}
	if c.msgOff > 4*len(g.payload)+1024 {
		return errors.New("compressed echo far larger than the payload")
	}
	c.zbuf = append(c.zbuf, b...)
	return nil
}

func (g *gen) frameDone(c *conn) error {
	c.needHdr = true
	if c.ctrl {
		c.ctrl = false
		switch c.ctrlOp {
		case wire.OpClose:
			return errors.New("server sent close")
		case wire.OpPong:
			if c.pongs++; c.pongs == 1 && g.pongsLeft > 0 {
				g.pongsLeft--
			}
			return nil
		case wire.OpPing:
			return nil // a ping needs no answer for the benchmark's duration
		}
		return fmt.Errorf("unknown control opcode %d", c.ctrlOp)
	}
	if !c.fin {
		return nil
	}
	c.inMsg = false
	if !c.compressed {
		if c.msgOff != len(g.payload) {
			return fmt.Errorf("echo of %d bytes, sent %d", c.msgOff, len(g.payload))
		}
		return g.message(c)
	}
	if !c.diverged {
		if c.msgOff == len(g.variants[c.variant]) {
			return g.message(c)
		}
		c.zbuf = append(c.zbuf[:0], g.variants[c.variant][:c.msgOff]...)
	}
	// Another known form, or one not seen before: inflate and check that once.
	for i, v := range g.variants {
		if string(v) == string(c.zbuf) {
			c.variant = i
			return g.message(c)
		}
	}
	g.inflated++
	if !g.inflater.Matches(c.zbuf, g.payload) {
		return errors.New("compressed echo does not inflate to the payload")
	}
	if len(g.variants) < 8 {
		g.variants = append(g.variants, append([]byte(nil), c.zbuf...))
		c.variant = len(g.variants) - 1
	}
	return g.message(c)
}

// message accounts one complete, verified echo and queues the next send.
func (g *gen) message(c *conn) error {
	c.msgs++
	switch *flagMode {
	case "echo":
		if c.msgs > c.written/int64(len(g.frame)) {
			return errors.New("more echoes than messages sent")
		}
		if g.latency && len(g.lat) < 1<<24 {
			g.lat = append(g.lat, g.now()-c.sentAt)
		}
		c.outPending += len(g.frame)
	case "broadcast":
		if c.msgs > g.bcastWant {
			return errors.New("more broadcast messages than sent")
		}
		if c.msgs == g.bcastWant {
			g.bcastLeft--
		}
	default:
		return errors.New("unexpected message")
	}
	return nil
}

// flush writes as much of c's pending frames as the socket takes.
func (g *gen) flush(c *conn, idx int) {
	for c.outPending > 0 {
		end := c.outPos + c.outPending
		if g.latency {
			c.sentAt = g.now()
		}
		w, err := rawWrite(c.fd, g.cyc[c.outPos:end])
		if err == syscall.EAGAIN {
			return // EPOLLOUT (edge) tells when there is room again
		}
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			g.fail(fmt.Errorf("conn %d: write: %w", idx, err))
			g.drop(c)
			return
		}
		c.outPending -= w
		c.written += int64(w)
		c.outPos = (c.outPos + w) % len(g.frame)
	}
}

// pingAll sends every open connection one (masked, empty) ping, then waits
// up to -ping-wait for a pong on each.
func (g *gen) pingAll(res *Result) error {
	ping := []byte{0x89, 0x80, 1, 2, 3, 4}
	t0 := time.Now()
	for i := range g.conns {
		c := &g.conns[i]
		if c.state != stOpen {
			continue
		}
		if w, err := syscall.Write(c.fd, ping); err != nil || w != len(ping) {
			return fmt.Errorf("conn %d: ping write: %v", i, err)
		}
		g.pongsLeft++
	}
	deadline := t0.Add(*flagPingWait)
	for g.pongsLeft > 0 && time.Now().Before(deadline) {
		if err := g.poll(100); err != nil {
			return err
		}
	}
	res.PongS = time.Since(t0).Seconds()
	for i := range g.conns {
		if g.conns[i].pongs > 0 {
			res.Pongs++
		}
	}
	return nil
}

func (g *gen) totalMsgs() int64 {
	var t int64
	for i := range g.conns {
		t += g.conns[i].msgs
	}
	return t
}

func (g *gen) echo(res *Result) error {
	for i := range g.conns {
		c := &g.conns[i]
		c.outPending = *flagInflight * len(g.frame)
		g.flush(c, i)
	}
	end := time.Now().Add(*flagWarmup)
	for time.Now().Before(end) {
		if err := g.poll(10); err != nil {
			return err
		}
	}
	m0 := g.totalMsgs()
	g.lat = g.lat[:0]
	if g.latency {
		g.lat = make([]int64, 0, 1<<16)
	}
	cpu0, srv0 := selfCPU(), procCPU(*flagPID)
	t0 := time.Now()
	end = t0.Add(*flagDuration)
	for time.Now().Before(end) {
		if err := g.poll(10); err != nil {
			return err
		}
	}
	el := time.Since(t0).Seconds()
	res.Msgs = g.totalMsgs() - m0
	res.Seconds = el
	res.MsgsPerS = float64(res.Msgs) / el
	res.GenCPU = (selfCPU() - cpu0) / el
	if *flagPID > 0 {
		res.SrvCPU = (procCPU(*flagPID) - srv0) / el
	}
	if g.latency && len(g.lat) > 0 {
		res.LatP50us = pct(g.lat, 50) / 1e3
		res.LatP99us = pct(g.lat, 99) / 1e3
	}
	if res.Msgs == 0 {
		return errors.New("no echo arrived in the measured time")
	}
	return nil
}

func (g *gen) broadcast(res *Result) error {
	sender := &g.conns[0]
	var times []int64
	// Servers register a connection around the time they answer its
	// handshake; give the last ones a moment before the first broadcast.
	time.Sleep(500 * time.Millisecond)
	if err := g.poll(0); err != nil {
		return err
	}
	cpu0, srv0 := selfCPU(), procCPU(*flagPID)
	t0 := time.Now()
	end := t0.Add(*flagDuration)
	for len(times) < *flagBcastMax && (len(times) == 0 || time.Now().Before(end)) {
		g.bcastWant++
		g.bcastLeft = g.n
		if *flagBcastOthers {
			g.bcastLeft = g.n - 1
		}
		start := g.now()
		sender.outPos, sender.outPending = 0, len(g.frame)
		g.flush(sender, 0)
		limit := time.Now().Add(10 * time.Second)
		for g.bcastLeft > 0 {
			if err := g.poll(10); err != nil {
				return err
			}
			if time.Now().After(limit) {
				return fmt.Errorf("broadcast %d: %d of %d connections got nothing in 10s", len(times)+1, g.bcastLeft, g.n)
			}
		}
		times = append(times, g.now()-start)
		// Let stray frames (there must be none) show up before the next one.
		if err := g.poll(5); err != nil {
			return err
		}
	}
	el := time.Since(t0).Seconds()
	res.GenCPU = (selfCPU() - cpu0) / el
	if *flagPID > 0 {
		res.SrvCPU = (procCPU(*flagPID) - srv0) / el
	}
	res.BcastN = len(times)
	res.BcastMs = pct(times, 50) / 1e6
	res.BcastMax = pct(times, 100) / 1e6
	res.Msgs = g.totalMsgs()
	res.Seconds = el
	return nil
}

// pct returns the p-th percentile of xs (sorted in place).
func pct(xs []int64, p float64) float64 {
	sortInt64(xs)
	i := int(float64(len(xs)-1) * p / 100)
	return float64(xs[i])
}

func (g *gen) closeAll() {
	for i := range g.conns {
		c := &g.conns[i]
		if c.fd >= 0 && c.state != stClosed {
			// Reset instead of FIN: no TIME_WAIT piles up across runs.
			syscall.SetsockoptLinger(c.fd, syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 0})
			syscall.Close(c.fd)
			c.state = stClosed
		}
	}
	syscall.Close(g.epfd)
}
