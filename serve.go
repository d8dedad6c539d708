package wsserver

import (
	"bytes"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wsserver/wsserver/internal/deflate"
	"github.com/wsserver/wsserver/internal/handshake"
	"github.com/wsserver/wsserver/internal/protocol"
	"github.com/wsserver/wsserver/internal/transport"
)

// ServeHTTP upgrades a WebSocket request of a net/http server into a
// connection of s, with the same events, settings and Connections entry as a
// connection from StartListening. Requests that are not valid upgrades get
// the same HTTP errors. It returns when the connection has ended (with
// EventLoop, as soon as the event loop has taken it over). TLS is the
// http.Server's business here: UseSSL applies only to StartListening.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := &handshake.Request{Method: r.Method, URI: r.RequestURI, Proto: r.Proto}
	req.Headers = append(req.Headers, handshake.Header{Name: "Host", Value: r.Host})
	// net/http keeps headers in a map: sort them, so RequestHeaders is stable.
	for _, name := range slices.Sorted(maps.Keys(r.Header)) {
		for _, v := range r.Header[name] {
			req.Headers = append(req.Headers, handshake.Header{Name: name, Value: v})
		}
	}
	s.mu.Lock()
	limit := s.cfg.maxHeadSize
	s.mu.Unlock()
	_, rej := handshake.Check(req)
	if size := req.Size(); size > limit {
		// The http.Server read the head (with its own MaxHeaderBytes, 1 MiB
		// by default): the same limit as on the raw listener applies here.
		rej = handshake.TooLarge(limit)
	}
	if rej != nil {
		s.logf(0, 1, "Refused handshake from %s: %v", r.RemoteAddr, rej)
		for _, l := range strings.Split(rej.Header, "\r\n") {
			if k, v, ok := strings.Cut(l, ":"); ok {
				w.Header().Set(k, strings.TrimSpace(v))
			}
		}
		s.handshakeFailed(rej.Status)
		http.Error(w, strconv.Itoa(rej.Status)+" "+http.StatusText(rej.Status)+": "+rej.Reason, rej.Status)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "500 Internal Server Error: the connection cannot be hijacked (HTTP/2?)", http.StatusInternalServerError)
		return
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		http.Error(w, "500 Internal Server Error: "+err.Error(), http.StatusInternalServerError)
		return
	}
	nc.SetDeadline(time.Time{}) // the http.Server's ReadTimeout or WriteTimeout must not cut the WebSocket
	s.wg.Add(1)
	c, ok := s.admit(transport.NewStream(nc))
	if !ok {
		s.wg.Done()
		return
	}
	var leftover []byte
	if n := brw.Reader.Buffered(); n > 0 {
		leftover, _ = brw.Reader.Peek(n)
		leftover = bytes.Clone(leftover)
	}
	c.beginOpen(r, nil)
	resp, ok := s.upgrade(c, req, nil)
	if !c.writeRaw(resp) || !ok {
		s.abandon(c)
		return
	}
	if err := c.opened(leftover); err != nil {
		(*connHandler)(c).Ended(err)
		return
	}
	s.engine.Serve(c.sock, s.policy())
}

// inflaterAdapter adapts a deflate.Decompressor to protocol.Inflater,
// turning its size error into close code 1009.
type inflaterAdapter struct{ d *deflate.Decompressor }

func (a inflaterAdapter) Write(p []byte, limit int64, emit func([]byte) error) error {
	return inflateErr(a.d.Write(p, limit, emit))
}

func (a inflaterAdapter) Finish(limit int64, emit func([]byte) error) error {
	return inflateErr(a.d.Finish(limit, emit))
}

func inflateErr(err error) error {
	if errors.Is(err, deflate.ErrTooLarge) {
		return &protocol.CloseError{Code: protocol.CloseTooBig, Reason: "decompressed message too large"}
	}
	return err
}
