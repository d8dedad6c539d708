package tlsconf

import (
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/wsserver/wsserver/internal/certstore/certtest"
)

// serverCert makes a tls.Certificate for name, signed by a fresh CA.
func serverCert(t *testing.T, kt certtest.KeyType) (tls.Certificate, *certtest.Cert) {
	t.Helper()
	ca := certtest.NewCA(t, "tlsconf test CA")
	leaf := certtest.NewLeaf(t, ca, "server.example", kt)
	return tls.Certificate{Certificate: [][]byte{leaf.Cert.Raw}, PrivateKey: leaf.Key, Leaf: leaf.Cert}, ca
}

// handshake connects a client and a server over a pipe and returns both
// sides' connection states, or the first error.
func handshake(t *testing.T, srvCfg, cliCfg *tls.Config) (srvState, cliState tls.ConnectionState, err error) {
	t.Helper()
	c1, c2 := tcpPair(t)
	defer c1.Close()
	defer c2.Close()
	deadline := time.Now().Add(10 * time.Second)
	_ = c1.SetDeadline(deadline)
	_ = c2.SetDeadline(deadline)
	srv := tls.Server(c1, srvCfg)
	cli := tls.Client(c2, cliCfg)
	errc := make(chan error, 1)
	go func() {
		err := srv.Handshake()
		if err != nil {
			c1.Close() // unblock the client
		}
		errc <- err
	}()
	cerr := cli.Handshake()
	if cerr != nil {
		c2.Close()
	} else {
		// Read what the server still sends (TLS 1.3 session tickets).
		go func() { _, _ = io.Copy(io.Discard, cli) }()
	}
	serr := <-errc
	if serr != nil {
		return tls.ConnectionState{}, tls.ConnectionState{}, serr
	}
	if cerr != nil {
		return tls.ConnectionState{}, tls.ConnectionState{}, cerr
	}
	return srv.ConnectionState(), cli.ConnectionState(), nil
}

// tcpPair returns the two ends of a loopback TCP connection. (net.Pipe has
// no buffer: both sides writing at once, as after a HelloRetryRequest,
// would deadlock.)
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		client.Close()
		t.Fatal(r.err)
	}
	return r.c, client
}
