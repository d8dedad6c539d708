// Command wsserver is the benchmark server on this repository's library.
//
// BufferMessage=true makes the library deliver each whole message in one
// DataIn event; echo sends it back with one SendMessage (which copies, as
// TextB is only valid during the call). Broadcast sends it to every
// connection with one Broadcast call. The listen backlog is raised to
// what the peers get from net.Listen, and the connection limit is lifted.
package main

import (
	"flag"
	"log"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"syscall"

	"github.com/wsserver/wsserver"
	"github.com/wsserver/wsserver/bench/internal/srv"
)

var (
	cpuprofile = flag.String("cpuprofile", "", "write a CPU profile here until SIGINT (for profiling by hand)")
	memprofile = flag.String("memprofile", "", "on SIGUSR1, write a heap profile here (memory statistics are logged on SIGUSR1 either way)")
	spin       = flag.Int("spin", 50, "EventLoopSpin in microseconds (0: the library's default, no polling; for comparisons by hand)")
)

func main() {
	srv.Init()
	if *memprofile != "" {
		runtime.MemProfileRate = 1
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	host, portStr, err := net.SplitHostPort(*srv.Addr)
	if err != nil {
		log.Fatal(err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		log.Fatal(err)
	}
	s := wsserver.New()
	if err := s.SetLocalHost(host); err != nil {
		log.Fatal(err)
	}
	if err := s.SetLocalPort(port); err != nil {
		log.Fatal(err)
	}
	// The default backlog is 5, like the reference component's; the peers
	// listen with net.Listen, which uses the kernel's somaxconn (4096 here).
	// With 5, connections opened in bursts are dropped and retried after a
	// 1 s SYN timeout, which would measure the backlog, not the server.
	if err := s.SetConnectionBacklog(4096); err != nil {
		log.Fatal(err)
	}
	// MaxConnections defaults to 1000; the idle and broadcast workloads open
	// 10,000 (nbio's MaxLoad is raised the same way).
	if _, err := s.Config("MaxConnections=100000"); err != nil {
		log.Fatal(err)
	}
	// BufferMessage: whole messages in one DataIn. EventLoop: open
	// connections are served from epoll loops (no goroutine per idle
	// connection). TcpNoDelay: the reference's default is False (Nagle on);
	// the peers run on Go's net default, which is True.
	// EventLoopSpin: after a batch a loop polls for 50 µs before it
	// sleeps, sparing the wake-ups that dominate a round trip here.
	for _, setting := range []string{"BufferMessage=true", "EventLoop=true", "TcpNoDelay=true", "EventLoopSpin=" + strconv.Itoa(*spin)} {
		if _, err := s.Config(setting); err != nil {
			log.Fatal(err)
		}
	}
	if *srv.Deflate {
		if _, err := s.Config("EnablePermessageDeflate=true"); err != nil {
			log.Fatal(err)
		}
	}
	if srv.Broadcast() {
		// Broadcast frames (and compresses) the message once for everyone.
		s.Events.OnDataIn = func(e *wsserver.DataInEvent) {
			s.Broadcast(e.DataFormat, e.TextB)
		}
	} else {
		s.Events.OnDataIn = func(e *wsserver.DataInEvent) {
			s.SendMessage(e.ConnectionID, e.DataFormat, e.TextB)
		}
	}
	if err := s.StartListening(); err != nil {
		log.Fatal(err)
	}
	srv.Ready(net.JoinHostPort(host, strconv.Itoa(s.LocalPort())))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		for range usr1 {
			writeHeapProfile(*memprofile)
		}
	}()
	<-sig
}

// writeHeapProfile logs the memory statistics and, when path is set,
// writes the live heap (every allocation sampled) to it.
func writeHeapProfile(path string) {
	if path != "" {
		f, err := os.Create(path)
		if err != nil {
			log.Print(err)
			return
		}
		defer f.Close()
		runtime.GC()
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			log.Print(err)
		}
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	log.Printf("heap: alloc %d inuse %d idle %d released %d sys %d; stack %d; mspan %d; gc %d; other %d; total sys %d",
		m.HeapAlloc>>10, m.HeapInuse>>10, m.HeapIdle>>10, m.HeapReleased>>10, m.HeapSys>>10, m.StackSys>>10, m.MSpanSys>>10, m.GCSys>>10, m.OtherSys>>10, m.Sys>>10)
}
