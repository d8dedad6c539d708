package main

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/wsserver/wsserver"
)

// Exec mode, websocketd style: each connection runs the program; each whole
// message the client sends becomes a line on its stdin (a newline is added
// unless the message ends with one), and each line it prints on stdout
// becomes a text message (binary when it is not UTF-8). Its stderr is the
// server's. When the program exits the connection closes (1000 on exit
// status 0, 1011 otherwise); when the connection closes the program's stdin
// closes and its process group gets SIGTERM, then SIGKILL after killGrace.
//
// The server's LineMode does not fit here: it joins lines across messages,
// so a message without a trailing newline (what a person types) would wait
// for the next one. Messages come whole (OnMessage) instead.
//
// Nothing blocks an event handler: stdin is written by a goroutine of the
// session, and reading from the client pauses (PauseData) while more than
// maxStdinBacklog bytes wait for the program to read them; stdout is read by
// another goroutine that waits for ReadyToSend when the send queue is full,
// so a client that reads slowly holds the program back through its pipe.

const (
	maxStdinBacklog = 1 << 20         // bytes waiting for the program's stdin before reading pauses
	maxLineLength   = 1 << 20         // a longer output line is sent in pieces of this size
	killGrace       = 3 * time.Second // from SIGTERM to SIGKILL
)

// session is one connection's program.
type session struct {
	a   *app
	p   *peer
	cmd *exec.Cmd

	stdin  *os.File // the write end of the program's stdin
	stdout *os.File // the read end of the program's stdout

	mu       sync.Mutex // guards the fields below
	queue    [][]byte   // messages for stdin, each ending in '\n'
	queued   int        // bytes in queue
	paused   bool       // reading from the client is paused for the backlog
	inClosed bool       // stdin takes no more: the program stopped reading it
	ended    bool       // the connection has closed
	exited   bool       // the process has been waited for
	waitErr  error      // its exit status, valid once reaped is closed

	wake   chan struct{} // capacity 1: the stdin writer has work or should stop
	ready  chan struct{} // capacity 1: ReadyToSend fired
	gone   chan struct{} // closed when the connection has closed
	reaped chan struct{} // closed when the process has been waited for
}

// startSession starts the program for p. On failure it closes the
// connection with 1011.
func (a *app) startSession(p *peer) {
	s := &session{
		a: a, p: p,
		wake:   make(chan struct{}, 1),
		ready:  make(chan struct{}, 1),
		gone:   make(chan struct{}),
		reaped: make(chan struct{}),
	}
	if err := s.start(); err != nil {
		a.log.Error("cannot start the program", "conn", p.id, "program", a.opts.command[0], "err", err)
		// The client learns what failed, not where: no server paths.
		a.srv.DisconnectWithCode(p.id, 1011, startFailure(err))
		return
	}
	p.exec = s
	a.log.Info("program started", "conn", p.id, "pid", s.cmd.Process.Pid)
	a.sessions.Add(3)
	go func() { defer a.sessions.Done(); s.writeStdin() }()
	go func() { defer a.sessions.Done(); s.pumpStdout() }()
	go func() { defer a.sessions.Done(); s.wait() }()
}

func (s *session) start() error {
	inR, inW, err := os.Pipe()
	if err != nil {
		return err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return err
	}
	argv := s.a.opts.command
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, os.Stderr
	cmd.Env = execEnv(s.p.conn, s.p.id, s.a.tls != nil, s.a.opts.passenv) // clean: see execenv.go
	// A process group of its own, so that ending it ends what it started.
	ownProcessGroup(cmd)
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return err
	}
	s.cmd, s.stdin, s.stdout = cmd, inW, outR
	return nil
}

// in queues a message for the program's stdin, and pauses reading from the
// client while too much waits.
func (s *session) in(data []byte) {
	line := make([]byte, len(data), len(data)+1)
	copy(line, data)
	if !bytes.HasSuffix(line, []byte{'\n'}) {
		line = append(line, '\n')
	}
	s.mu.Lock()
	if s.ended || s.inClosed {
		s.mu.Unlock()
		return
	}
	s.queue = append(s.queue, line)
	s.queued += len(line)
	pause := s.queued > maxStdinBacklog && !s.paused
	if pause {
		s.paused = true
	}
	s.mu.Unlock()
	if pause {
		s.p.conn.PauseData()
	}
	notify(s.wake)
}

// writeStdin writes the queued messages to the program until the connection
// ends or the program stops reading.
func (s *session) writeStdin() {
	defer s.stdin.Close()
	for {
		s.mu.Lock()
		for len(s.queue) == 0 && !s.ended {
			s.mu.Unlock()
			<-s.wake
			s.mu.Lock()
		}
		if s.ended {
			s.mu.Unlock()
			return
		}
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()

		for _, line := range batch {
			if _, err := s.stdin.Write(line); err != nil {
				// The program closed its stdin or exited; what the client
				// sends from now on has nowhere to go.
				s.mu.Lock()
				s.queue, s.queued, s.inClosed = nil, 0, true
				resume := s.paused
				s.paused = false
				s.mu.Unlock()
				if resume {
					s.p.conn.ProcessData()
				}
				return
			}
			s.mu.Lock()
			s.queued -= len(line)
			s.mu.Unlock()
		}
		s.mu.Lock()
		resume := s.paused && s.queued == 0
		if resume {
			s.paused = false
		}
		s.mu.Unlock()
		if resume {
			s.p.conn.ProcessData()
		}
	}
}

// pumpStdout sends each line the program prints, then, once the program has
// exited, closes the connection.
func (s *session) pumpStdout() {
	defer s.stdout.Close()
	r := bufio.NewReaderSize(s.stdout, 64<<10)
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		full := err == nil || len(line) >= maxLineLength
		if errors.Is(err, bufio.ErrBufferFull) {
			err = nil
		}
		if full || (err != nil && len(line) > 0) {
			if !s.sendLine(line) {
				return
			}
			line = line[:0]
		}
		if err != nil {
			break // EOF: the program, and everything it started, closed stdout
		}
	}
	select {
	case <-s.reaped:
	case <-s.gone:
		return
	}
	code, reason := 1000, "program exited"
	if s.waitErr != nil {
		code, reason = 1011, "program ended: "+exitStatus(s.waitErr)
	}
	s.a.log.Info("program exited", "conn", s.p.id, "status", exitStatus(s.waitErr))
	s.a.srv.DisconnectWithCode(s.p.id, code, truncate(reason, 123))
}

// sendLine sends one line of output, without its line break, waiting for
// ReadyToSend while the send queue is full. It reports false when the
// connection is gone.
func (s *session) sendLine(line []byte) bool {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	line = bytes.TrimSuffix(line, []byte{'\r'})
	format := wsserver.FormatText
	if !utf8.Valid(line) {
		format = wsserver.FormatBinary
	}
	for {
		err := s.a.srv.SendMessage(s.p.id, format, line)
		if err == nil {
			return true
		}
		if !errors.Is(err, wsserver.ErrWouldBlock) {
			if !errors.Is(err, wsserver.ErrNotConnected) && !errors.Is(err, wsserver.ErrInvalidConnectionID) {
				s.a.sendFailed(s.p.conn, err)
			}
			return false
		}
		select {
		case <-s.ready:
		case <-s.gone:
			return false
		}
	}
}

// wait waits for the program to exit.
func (s *session) wait() {
	waitExit(s.cmd.Process.Pid) // without holding a thread (waitexit_linux.go)
	err := s.cmd.Wait()
	s.mu.Lock()
	s.exited, s.waitErr = true, err
	s.mu.Unlock()
	close(s.reaped)
}

// end is called when the connection has closed: the program's stdin and
// stdout close and its process group is terminated.
func (s *session) end() {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	s.queue, s.queued = nil, 0
	s.mu.Unlock()
	close(s.gone)
	notify(s.wake)
	s.stdin.Close()  // unblocks a write the program does not read
	s.stdout.Close() // unblocks the pump; the program gets EPIPE
	s.kill(syscall.SIGTERM)
	s.a.sessions.Add(1)
	go func() {
		defer s.a.sessions.Done()
		t := time.NewTimer(killGrace)
		defer t.Stop()
		select {
		case <-s.reaped:
		case <-t.C:
			s.kill(syscall.SIGKILL)
		case <-s.a.killNow:
			s.kill(syscall.SIGKILL)
		}
	}()
}

// kill signals the program's process group, unless it has been waited for.
func (s *session) kill(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.exited {
		signalGroup(s.cmd.Process, sig)
	}
}

// execIn hands a message to the connection's program.
func (a *app) execIn(e *wsserver.MessageEvent) {
	if p := peerOf(e.Connection); p != nil && p.exec != nil {
		p.exec.in(e.Data)
	}
}

// execReady wakes the connection's stdout pump.
func (a *app) execReady(e *wsserver.ReadyToSendEvent) {
	c, err := a.srv.Connection(e.ConnectionID)
	if err != nil {
		return // gone
	}
	if p := peerOf(c); p != nil && p.exec != nil {
		notify(p.exec.ready)
	}
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// exitStatus describes how a program ended ("exit status 3", "signal:
// killed"), without paths: clients see it.
func exitStatus(err error) string {
	if err == nil {
		return "0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ProcessState.String()
	}
	return "waiting for it failed"
}

// startFailure is the close reason a client gets when its program cannot
// start: what failed, without the server's paths (the log has the details).
func startFailure(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "cannot start the program: not found"
	case errors.Is(err, fs.ErrPermission):
		return "cannot start the program: permission denied"
	case errors.Is(err, syscall.ENOEXEC):
		return "cannot start the program: not an executable"
	case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.ENOMEM), errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "cannot start the program: out of resources"
	}
	return "cannot start the program (the server log says why)"
}

// truncate shortens s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
