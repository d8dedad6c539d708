// Package srv holds what every benchmark server shares: its flags, the
// open-files limit, and the listening announcement cmd/bench waits for.
package srv

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sync"
	"syscall"
)

// Flags common to all benchmark servers.
var (
	Addr    = flag.String("addr", "127.0.0.1:0", "listen address")
	Mode    = flag.String("mode", "echo", "echo: send each message back; broadcast: send each message to every connected client")
	Deflate = flag.Bool("deflate", false, "accept permessage-deflate (no context takeover) and compress replies")
)

// Init parses the flags and raises the open-files soft limit to the hard one.
func Init() {
	flag.Parse()
	if *Mode != "echo" && *Mode != "broadcast" {
		log.Fatalf("unknown -mode %q", *Mode)
	}
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			log.Printf("setrlimit: %v", err)
		}
	}
}

// Broadcast reports whether the server runs in broadcast mode.
func Broadcast() bool { return *Mode == "broadcast" }

// Listen opens the TCP listener on -addr and announces it.
func Listen() net.Listener {
	ln, err := net.Listen("tcp", *Addr)
	if err != nil {
		log.Fatal(err)
	}
	Ready(ln.Addr().String())
	return ln
}

// Ready prints the line cmd/bench may read to learn the address.
func Ready(addr string) {
	fmt.Fprintf(os.Stdout, "listening %s\n", addr)
}

// ReadAll appends everything r yields to buf[:0], growing it as needed, and
// returns it. Servers keep the returned slice to reuse it for the next message.
func ReadAll(r io.Reader, buf []byte) ([]byte, error) {
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// Registry is a set of connections for broadcast mode.
type Registry[C comparable] struct {
	mu    sync.Mutex // guards conns
	conns map[C]struct{}
	bmu   sync.Mutex // one broadcast at a time; guards snap
	snap  []C
}

// Add registers c.
func (r *Registry[C]) Add(c C) {
	r.mu.Lock()
	if r.conns == nil {
		r.conns = map[C]struct{}{}
	}
	r.conns[c] = struct{}{}
	r.mu.Unlock()
}

// Remove unregisters c.
func (r *Registry[C]) Remove(c C) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
}

// Each calls f for every registered connection. Broadcasts never interleave,
// and f may cause Add or Remove (a failed write closing its connection).
func (r *Registry[C]) Each(f func(C)) {
	r.bmu.Lock()
	defer r.bmu.Unlock()
	r.mu.Lock()
	r.snap = r.snap[:0]
	for c := range r.conns {
		r.snap = append(r.snap, c)
	}
	r.mu.Unlock()
	for _, c := range r.snap {
		f(c)
	}
}
