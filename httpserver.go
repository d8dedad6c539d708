package wsserver

import (
	"net/http"
	"time"
)

// ConfigureHTTPServer applies the server's limits to hs, an http.Server that
// serves s (ServeHTTP) and perhaps other handlers, so that they hold on the
// net/http path as on StartListening's: ReadHeaderTimeout is HandshakeTimeout
// (or DefaultConnectionTimeout when it is set and shorter; net/http bounds a
// TLS handshake by it too), IdleTimeout is HandshakeTimeout, so that idle
// keep-alive connections, which MaxConnections does not count, are closed,
// and MaxHeaderBytes is MaxRequestHeadSize. Call it after the settings and
// before hs starts serving; fields already set to a shorter value are kept.
func (s *Server) ConfigureHTTPServer(hs *http.Server) {
	s.mu.Lock()
	timeout, limit := s.cfg.handshakeTimeout, s.cfg.maxHeadSize
	if dct := time.Duration(s.cfg.defaultConnectionTimeout) * time.Second; dct > 0 && dct < timeout {
		timeout = dct
	}
	s.mu.Unlock()
	if hs.ReadHeaderTimeout <= 0 || hs.ReadHeaderTimeout > timeout {
		hs.ReadHeaderTimeout = timeout
	}
	if hs.IdleTimeout <= 0 || hs.IdleTimeout > timeout {
		hs.IdleTimeout = timeout
	}
	if hs.MaxHeaderBytes <= 0 || hs.MaxHeaderBytes > limit {
		hs.MaxHeaderBytes = limit
	}
}
