package wsserver

import (
	"bytes"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsserver/wsserver/internal/wiretest"
)

// Tests of Config and of each config setting of the reference
// (WebSocketServer, TCPServer and Base groups, and our own). The SSL group's
// behaviour belongs to the TLS tests; here every SSL name must answer.

// referenceConfigNames is the "Config Settings" list of the WSServer
// reference, in its order.
var referenceConfigNames = []string{
	// WebSocketServer
	"BufferMessage", "DisconnectStatusCode", "DisconnectStatusDescription", "EnablePermessageDeflate",
	"MaxFrameSize", "MaxLineLength[ConnectionId]", "MessageLength[ConnectionId]", "WaitForCloseResponse",
	// TCPServer
	"AllowedClients", "BindExclusively", "BlockedClients", "CloseStreamAfterTransfer", "DefaultConnectionTimeout",
	"InBufferSize", "KeepAliveInterval", "KeepAliveTime", "MaxConnections", "OutBufferSize", "TcpNoDelay", "UseIPv6",
	// SSL
	"LogSSLPackets", "OpenSSLCADir", "OpenSSLCAFile", "OpenSSLCipherList", "OpenSSLPrngSeedData", "ReuseSSLSession",
	"SSLCACerts", "SSLCheckCRL", "SSLCheckOCSP", "SSLCipherStrength", "SSLEnabledCipherSuites", "SSLEnabledProtocols",
	"SSLEnableRenegotiation", "SSLIncludeCertChain", "SSLKeyLogFile", "SSLNegotiatedCipher",
	"SSLNegotiatedCipherStrength", "SSLNegotiatedCipherSuite", "SSLNegotiatedKeyExchange",
	"SSLNegotiatedKeyExchangeStrength", "SSLNegotiatedVersion", "SSLSecurityFlags", "SSLServerCACerts",
	"TLS12SignatureAlgorithms", "TLS12SupportedGroups", "TLS13KeyShareGroups", "TLS13SignatureAlgorithms",
	"TLS13SupportedGroups",
	// Base
	"BuildInfo", "CodePage", "LicenseInfo", "MaskSensitive", "UseInternalSecurityAPI",
}

// referencePath is the reference text, when this checkout has it.
const referencePath = "/work/shared/spec/WSServer-reference.txt"

func TestConfig_ReferenceListMatchesReferenceText(t *testing.T) {
	text, err := os.ReadFile(referencePath)
	if err != nil {
		t.Skipf("reference text not available: %v", err)
	}
	// Each setting's entry starts a line with "Name:", a space and a
	// non-breaking space.
	re := regexp.MustCompile(`(?m)^([A-Za-z0-9]+(?:\[ConnectionId\])?): \x{00A0}`)
	var parsed []string
	for _, m := range re.FindAllStringSubmatch(string(text), -1) {
		parsed = append(parsed, m[1])
	}
	if !slices.Equal(parsed, referenceConfigNames) {
		t.Fatalf("the reference lists %d settings:\n%q\nthe test knows %d:\n%q", len(parsed), parsed, len(referenceConfigNames), referenceConfigNames)
	}
}

// perConnection reports whether the reference reads the setting per
// connection, as Name[ConnectionId].
func perConnection(name string) bool {
	return strings.HasSuffix(name, "[ConnectionId]") || strings.HasPrefix(name, "SSLNegotiated")
}

func TestConfig_EveryReferenceNameAnswers(t *testing.T) {
	h := newHarness(t, nil)
	_, id := h.dial(t, "/", nil)
	names := ConfigNames()
	for _, ref := range referenceConfigNames {
		name := strings.TrimSuffix(ref, "[ConnectionId]")
		if !slices.Contains(names, name) {
			t.Errorf("%s is not in ConfigNames()", name)
		}
		if perConnection(ref) {
			if _, err := h.s.Config(name + "[" + strconv.Itoa(id) + "]"); err != nil {
				t.Errorf("Config(%q[%d]): %v", name, id, err)
			}
			continue
		}
		if _, err := h.s.Config(name); err != nil {
			t.Errorf("Config(%q): %v", name, err)
		}
	}
	// Every name ConfigNames lists answers too, and names are unique.
	seen := map[string]bool{}
	for _, name := range names {
		if seen[strings.ToLower(name)] {
			t.Errorf("ConfigNames lists %s twice", name)
		}
		seen[strings.ToLower(name)] = true
		_, err := h.s.Config(name)
		if err != nil && !perConnection(name) && name != "MessageLength" {
			t.Errorf("Config(%q): %v", name, err)
		}
	}
}

func TestConfig_Defaults(t *testing.T) {
	s := New()
	for name, want := range map[string]string{
		"BufferMessage":            "False",
		"DisconnectStatusCode":     "1000",
		"EnablePermessageDeflate":  "True",
		"MaxFrameSize":             "131072",
		"WaitForCloseResponse":     "True",
		"AllowedClients":           "*",
		"BindExclusively":          "True",
		"BlockedClients":           "",
		"CloseStreamAfterTransfer": "True",
		"DefaultConnectionTimeout": "0",
		"MaxConnections":           "1000",
		"TcpNoDelay":               "False",
		"UseIPv6":                  "0",
		"CodePage":                 "65001",
		"MaskSensitive":            "True",
		"SSLEnabledProtocols":      "4032",
		"SSLEnabledCipherSuites":   "*",
		// UseInternalSecurityAPI: the reference's default is False, but this
		// server has no system security library to use: it reads True and
		// refuses False (TestConfig_UseInternalSecurityAPIFalseNotSupported).
		"UseInternalSecurityAPI": "True",
	} {
		if got, err := s.Config(name); err != nil || got != want {
			t.Errorf("Config(%q) = %q, %v; want the reference's default %q", name, got, err, want)
		}
	}
}

func TestConfig_NamesAreCaseInsensitive(t *testing.T) {
	s := New()
	if _, err := s.Config("maxframesize=4096"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Config("MAXFRAMESIZE"); got != "4096" {
		t.Fatalf("MaxFrameSize = %q", got)
	}
	if _, err := s.Config(" MaxFrameSize = 2048 "); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Config("MaxFrameSize"); got != "2048" {
		t.Fatalf("MaxFrameSize = %q after a setting with spaces", got)
	}
}

func TestConfig_BooleanForms(t *testing.T) {
	// Reference: "For boolean values, use the strings "True", "False", "0",
	// "1", "Yes", or "No" (case does not matter)."
	s := New()
	bools := []string{"BufferMessage", "EnablePermessageDeflate", "WaitForCloseResponse", "BindExclusively",
		"CloseStreamAfterTransfer", "TcpNoDelay", "MaskSensitive"}
	forms := []struct {
		in   string
		want string
	}{
		{"True", "True"}, {"False", "False"}, {"1", "True"}, {"0", "False"}, {"Yes", "True"}, {"No", "False"},
		{"TRUE", "True"}, {"false", "False"}, {"yes", "True"}, {"NO", "False"}, {"tRuE", "True"},
	}
	for _, name := range bools {
		for _, f := range forms {
			if _, err := s.Config(name + "=" + f.in); err != nil {
				t.Fatalf("%s=%s: %v", name, f.in, err)
			}
			if got, _ := s.Config(name); got != f.want {
				t.Fatalf("%s=%s reads back %q, want %q", name, f.in, got, f.want)
			}
		}
		before, _ := s.Config(name)
		for _, bad := range []string{"maybe", "", "2", "-1", "on", "T"} {
			wantCode(t, name+"="+bad, configErr(s, name+"="+bad), ErrInvalidValue)
		}
		if after, _ := s.Config(name); after != before {
			t.Fatalf("%s changed from %q to %q by refused values", name, before, after)
		}
	}
}

func configErr(s *Server, c string) error {
	_, err := s.Config(c)
	return err
}

func TestConfig_BadValuesErrInvalidValue(t *testing.T) {
	h := newHarness(t, nil)
	_, id := h.dial(t, "/", nil)
	conn := "[" + strconv.Itoa(id) + "]"
	for _, c := range []string{
		"MaxFrameSize=0", "MaxFrameSize=abc", "MaxFrameSize=1.5",
		"DisconnectStatusCode=999", "DisconnectStatusCode=1005", "DisconnectStatusCode=1006", "DisconnectStatusCode=1015",
		"DisconnectStatusCode=5000", "DisconnectStatusCode=x",
		"DisconnectStatusDescription=" + strings.Repeat("x", 124), "DisconnectStatusDescription=\xff",
		"MaxLineLength=0", "MaxLineLength" + conn + "=0", "MaxLineLength" + conn + "=x",
		"MessageLength" + conn + "=-1", "MessageLength" + conn + "=x", "MessageLength=10",
		"MaxConnections=0", "MaxConnections=100001",
		"UseIPv6=3", "UseIPv6=-1",
		"InBufferSize=-1", "OutBufferSize=x", "KeepAliveTime=-5", "KeepAliveInterval=x",
		"DefaultConnectionTimeout=-1",
		"CodePage=abc",
		"LogLevel=4", "MaxMessageSize=-1", "SendQueueSize=0", "HandshakeTimeout=0", "CloseTimeout=abc",
		"CompressionLevel=10", "CompressionThreshold=-1",
		"EventLoopSpin=-1", "EventLoopSpin=10001", "EventLoopSpin=x",
		// Read-only settings, and forms that do not exist.
		"BuildInfo=x", "LicenseInfo=x", "MaxFrameSize" + conn + "=10", "MaxFrameSize[x]=10",
		"SSLNegotiatedVersion" + conn + "=x",
	} {
		wantCode(t, "Config("+c+")", configErr(h.s, c), ErrInvalidValue)
	}
	// A code page the server cannot convert is not supported (it is valid
	// in the reference's list).
	wantCode(t, "CodePage=20000", configErr(h.s, "CodePage=20000"), ErrNotSupported)
}

func TestConfig_UnknownSettingErrUnknownSetting(t *testing.T) {
	s := New()
	for _, c := range []string{"NoSuchSetting", "NoSuchSetting=1", "", "=5", "MaxFrame", "SSLProvider=1"} {
		wantCode(t, "Config("+c+")", configErr(s, c), ErrUnknownSetting)
	}
}

func TestConfig_MaxConnections_LockedWhileListening108(t *testing.T) {
	h := newHarness(t, func(s *Server) {
		if _, err := s.Config("MaxConnections=50"); err != nil {
			t.Fatal(err)
		}
	})
	wantCode(t, "MaxConnections while listening", configErr(h.s, "MaxConnections=10"), ErrMaxConnectionsLocked)
	if got, _ := h.s.Config("MaxConnections"); got != "50" {
		t.Fatalf("MaxConnections = %s", got)
	}
	// Reference: "once set, it can no longer be changed for the current
	// instance": not after StopListening either while connections remain.
	h.dial(t, "/", nil)
	h.s.StopListening()
	wantCode(t, "MaxConnections after StopListening with a client", configErr(h.s, "MaxConnections=10"), ErrMaxConnectionsLocked)
}

func TestConfig_MaxConnections_ExtraClientRefused(t *testing.T) {
	h := newHarness(t, func(s *Server) { s.Config("MaxConnections=2") })
	c1, _ := h.dial(t, "/", nil)
	h.dial(t, "/", nil)
	d := websocket.Dialer{HandshakeTimeout: waitLimit}
	conn, resp, err := d.Dial(h.url, nil)
	if err == nil {
		conn.Close()
		t.Fatal("a third client was accepted with MaxConnections=2")
	}
	if resp == nil || resp.StatusCode != 503 {
		t.Fatalf("third client: %v, response %v; want 503", err, resp)
	}
	if n := h.s.ConnectionCount(); n != 2 {
		t.Fatalf("%d connections", n)
	}
	// A slot frees when a client leaves.
	c1.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
	readClose(t, c1)
	wiretest.WaitUntil(t, "a new client to be accepted", func() bool {
		conn, _, err := d.Dial(h.url, nil)
		if err != nil {
			return false
		}
		t.Cleanup(func() { conn.Close() })
		h.nextID(t)
		return true
	})
}

func TestConfig_MaxFrameSize_Fragmentation(t *testing.T) {
	h := newHarness(t, func(s *Server) {
		if _, err := s.Config("MaxFrameSize=1000"); err != nil {
			t.Fatal(err)
		}
	})
	msg := strings.Repeat("0123456789", 250) // 2500 bytes
	// A raw client sees the frames: 1000 + 1000 + 500, FIN on the last.
	// Reference, MaxFrameSize: "When a message that is larger than
	// MaxFrameSize is sent, it will be broken into fragments with the maximum
	// size specified here." Its note that with Timeout 0 fragments go out as
	// separate messages describes a limitation this server does not have:
	// the fragments always form one message, with either Timeout.
	for _, timeout := range []int{0, 5} {
		rc, id := h.rawOpen(t, wiretest.Options{})
		h.conn(t, id).SetTimeout(timeout)
		if err := h.s.SendText(id, msg); err != nil {
			t.Fatal(err)
		}
		var got []byte
		for i, want := range []struct {
			op  byte
			fin bool
			n   int
		}{{opText, false, 1000}, {opCont, false, 1000}, {opCont, true, 500}} {
			f := rc.Frame(t)
			if f.Op != want.op || f.Fin != want.fin || len(f.Payload) != want.n {
				t.Fatalf("Timeout %d: frame %d: op %d fin %v %d bytes; want op %d fin %v %d bytes", timeout, i, f.Op, f.Fin, len(f.Payload), want.op, want.fin, want.n)
			}
			got = append(got, f.Payload...)
		}
		if string(got) != msg {
			t.Fatal("fragments do not add up to the message")
		}
	}
	// A gorilla client reads the fragments as one message.
	conn, id := h.dial(t, "/", nil)
	h.s.SendText(id, msg)
	conn.SetReadDeadline(time.Now().Add(waitLimit))
	typ, r, err := conn.NextReader()
	if err != nil || typ != websocket.TextMessage {
		t.Fatalf("NextReader: %d %v", typ, err)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil || buf.String() != msg {
		t.Fatalf("gorilla read %d bytes, %v", buf.Len(), err)
	}
	// Messages up to MaxFrameSize go in one frame.
	rc, id2 := h.rawOpen(t, wiretest.Options{})
	h.s.SendText(id2, msg[:1000])
	if f := rc.Frame(t); !f.Fin || f.Op != opText || len(f.Payload) != 1000 {
		t.Fatalf("a message of MaxFrameSize bytes: op %d fin %v %d bytes", f.Op, f.Fin, len(f.Payload))
	}
}

func TestConfig_MessageLength_OneMessageAcrossSends(t *testing.T) {
	h := newHarness(t, nil)
	rc, id := h.rawOpen(t, wiretest.Options{})
	cid := "[" + strconv.Itoa(id) + "]"
	if got, _ := h.s.Config("MessageLength" + cid); got != "0" {
		t.Fatalf("MessageLength default %q", got)
	}
	if _, err := h.s.Config("MessageLength" + cid + "=10"); err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{"abc", "defg"} {
		if err := h.s.SendText(id, part); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := h.s.Config("MessageLength" + cid); got != "3" {
		t.Fatalf("MessageLength after 7 of 10 bytes reads %q, want 3", got)
	}
	// While the message is open its length cannot change.
	wantCode(t, "MessageLength while a message is open", configErr(h.s, "MessageLength"+cid+"=5"), ErrInvalidValue)
	h.s.SendText(id, "hij")
	h.s.SendText(id, "next") // a message of its own again
	for i, want := range []struct {
		op   byte
		fin  bool
		data string
	}{{opText, false, "abc"}, {opCont, false, "defg"}, {opCont, true, "hij"}, {opText, true, "next"}} {
		f := rc.Frame(t)
		if f.Op != want.op || f.Fin != want.fin || string(f.Payload) != want.data {
			t.Fatalf("frame %d: op %d fin %v %q; want op %d fin %v %q", i, f.Op, f.Fin, f.Payload, want.op, want.fin, want.data)
		}
	}
	// A send past the end: the message ends where MessageLength says and
	// the rest is a message of its own.
	h.s.Config("MessageLength" + cid + "=5")
	h.s.SendText(id, "abcdefgh")
	for i, want := range []struct {
		op   byte
		fin  bool
		data string
	}{{opText, true, "abcde"}, {opText, true, "fgh"}} {
		if f := rc.Frame(t); f.Op != want.op || f.Fin != want.fin || string(f.Payload) != want.data {
			t.Fatalf("frame %d: op %d fin %v %q; want op %d fin %v %q", i, f.Op, f.Fin, f.Payload, want.op, want.fin, want.data)
		}
	}
	// A gorilla client sees one message made of several sends.
	conn, id2 := h.dial(t, "/", nil)
	h.s.Config("MessageLength[" + strconv.Itoa(id2) + "]=6")
	h.s.Send(id2, []byte("12"))
	h.s.Send(id2, []byte("34"))
	h.s.Send(id2, []byte("56"))
	if typ, p := readMessage(t, conn); typ != websocket.BinaryMessage || string(p) != "123456" {
		t.Fatalf("gorilla got type %d %q", typ, p)
	}
}

func TestConfig_EnablePermessageDeflate(t *testing.T) {
	for _, enable := range []bool{true, false} {
		t.Run(strconv.FormatBool(enable), func(t *testing.T) {
			h := newHarness(t, func(s *Server) {
				s.Config("EnablePermessageDeflate=" + strconv.FormatBool(enable))
				s.Config("BufferMessage=true")
				s.Events.OnDataIn = func(e *DataInEvent) { s.SendMessage(e.ConnectionID, e.DataFormat, e.TextB) }
			})
			d := websocket.Dialer{HandshakeTimeout: waitLimit, EnableCompression: true}
			conn, resp, err := d.Dial(h.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			id := h.nextID(t)
			ext := resp.Header.Get("Sec-WebSocket-Extensions")
			if strings.Contains(ext, "permessage-deflate") != enable {
				t.Fatalf("EnablePermessageDeflate=%v: response extensions %q", enable, ext)
			}
			if got := h.conn(t, id).Extensions(); strings.Contains(got, "permessage-deflate") != enable {
				t.Fatalf("Extensions() = %q", got)
			}
			msg := strings.Repeat("compress me ", 1000)
			conn.WriteMessage(websocket.TextMessage, []byte(msg))
			if _, p := readMessage(t, conn); string(p) != msg {
				t.Fatal("echo differs")
			}
		})
	}
}

func TestConfig_UseInternalSecurityAPIFalseNotSupported(t *testing.T) {
	s := New()
	wantCode(t, "UseInternalSecurityAPI=False", configErr(s, "UseInternalSecurityAPI=False"), ErrNotSupported)
	if err := configErr(s, "UseInternalSecurityAPI=True"); err != nil {
		t.Fatalf("UseInternalSecurityAPI=True: %v", err)
	}
	wantCode(t, "UseInternalSecurityAPI=maybe", configErr(s, "UseInternalSecurityAPI=maybe"), ErrInvalidValue)
}

func TestConfig_CodePage1252(t *testing.T) {
	got := make(chan [2]string, 1)
	h := newHarness(t, func(s *Server) {
		if _, err := s.Config("CodePage=1252"); err != nil {
			t.Fatal(err)
		}
		s.Events.OnDataIn = func(e *DataInEvent) {
			got <- [2]string{string(e.TextB), e.Text()}
		}
	})
	conn, id := h.dial(t, "/", nil)
	conn.WriteMessage(websocket.TextMessage, []byte("café €"))
	in := wiretest.Receive(t, got, "DataIn")
	// Reference, CodePage: "The system code page used for Unicode to
	// Multibyte translations": TextB holds Windows-1252 bytes, Text the text.
	if want := "caf\xe9 \x80"; in[0] != want {
		t.Fatalf("TextB = %q, want the Windows-1252 bytes %q", in[0], want)
	}
	if in[1] != "café €" {
		t.Fatalf("Text() = %q, want %q", in[1], "café €")
	}
	// Binary data is never converted.
	conn.WriteMessage(websocket.BinaryMessage, []byte("café"))
	if in := wiretest.Receive(t, got, "DataIn"); in[0] != "café" {
		t.Fatalf("binary TextB = %q, want it unchanged", in[0])
	}

	// Bytes of text to send are in the code page; strings are Go (UTF-8)
	// text, sent as they are (reference, SendText: "The component will
	// UTF-8 encode the supplied text").
	c := h.conn(t, id)
	h.s.SendMessage(id, FormatText, []byte("caf\xe9 \x80"))
	c.SetDataFormat(FormatText)
	c.SetDataToSendB([]byte("\xe9t\xe9"))
	h.s.SendText(id, "café €")
	c.SetDataToSend("naïve")
	h.s.Send(id, []byte("caf\xe9"))
	for _, want := range []struct {
		typ  int
		data string
	}{
		{websocket.TextMessage, "café €"}, {websocket.TextMessage, "été"},
		{websocket.TextMessage, "café €"}, {websocket.TextMessage, "naïve"},
		{websocket.BinaryMessage, "caf\xe9"},
	} {
		if typ, p := readMessage(t, conn); typ != want.typ || string(p) != want.data {
			t.Fatalf("client got type %d %q, want type %d %q", typ, p, want.typ, want.data)
		}
	}
}

func TestConfig_MaxMessageSize1009(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Config("MaxMessageSize=1000")
		// After failing a connection the server waits for the client to
		// close the socket; gorilla waits for the server to (RFC 6455 7.1.1).
		s.Config("CloseTimeout=0.2")
		s.Events.OnError = func(e *ErrorEvent) { ev.Add("Error %d %d", e.ConnectionID, e.ErrorCode) }
		s.Events.OnDisconnected = func(e *DisconnectedEvent) { ev.Add("Disconnected %d %d", e.ConnectionID, e.StatusCode) }
		s.Events.OnDataIn = func(e *DataInEvent) { ev.Add("DataIn %d", len(e.TextB)) }
	})
	conn, id := h.dial(t, "/", nil)
	conn.WriteMessage(websocket.BinaryMessage, make([]byte, 1000)) // at the limit
	ev.WaitFor(t, "DataIn 1000")
	conn.WriteMessage(websocket.BinaryMessage, make([]byte, 1001))
	if code, _ := readClose(t, conn); code != 1009 {
		t.Fatalf("close code %d, want 1009", code)
	}
	ev.WaitFor(t, "Error "+strconv.Itoa(id)+" 1009")
	ev.WaitFor(t, "Disconnected "+strconv.Itoa(id)+" 1009")

	// Fragments count together, and the limit holds after decompression.
	rc, id2 := h.rawOpen(t, wiretest.Options{})
	rc.Write(t, false, opBinary, make([]byte, 600))
	rc.Write(t, true, opCont, make([]byte, 600))
	if code, _ := rc.CloseFrame(t); code != 1009 {
		t.Fatalf("fragmented: close code %d", code)
	}
	ev.WaitFor(t, "Error "+strconv.Itoa(id2)+" 1009")
	d := websocket.Dialer{HandshakeTimeout: waitLimit, EnableCompression: true}
	zc, _, err := d.Dial(h.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zc.Close()
	id3 := h.nextID(t)
	zc.WriteMessage(websocket.BinaryMessage, make([]byte, 100000)) // a few hundred bytes compressed
	if code, _ := readClose(t, zc); code != 1009 {
		t.Fatalf("compressed: close code %d", code)
	}
	ev.WaitFor(t, "Error "+strconv.Itoa(id3)+" 1009")
}

func TestConfig_BuildInfoAndLicenseInfo(t *testing.T) {
	s := New()
	if bi, _ := s.Config("BuildInfo"); !strings.Contains(bi, Version) {
		t.Fatalf("BuildInfo %q lacks the version %s", bi, Version)
	}
	li, _ := s.Config("LicenseInfo")
	for _, field := range []string{"Product:", "Product Key:", "License Source:", "License Type:", "Last Valid Build:"} {
		if !strings.Contains(li, field) {
			t.Fatalf("LicenseInfo lacks %q: %q", field, li)
		}
	}
}

func TestConfig_MaskSensitive(t *testing.T) {
	for _, mask := range []bool{true, false} {
		t.Run(strconv.FormatBool(mask), func(t *testing.T) {
			l := logged{wiretest.NewRecorder()}
			h := newHarness(t, func(s *Server) {
				s.Config("LogLevel=2")
				s.Config("MaskSensitive=" + strconv.FormatBool(mask))
				s.Events.OnLog = l.handler
			})
			h.rawOpen(t, wiretest.Options{Headers: []string{"Authorization: Basic c2VjcmV0", "Cookie: id=secret"}})
			entry := l.WaitPrefix(t, "2 Verbose")
			if strings.Contains(entry, "c2VjcmV0") == mask || strings.Contains(entry, "id=secret") == mask {
				t.Fatalf("MaskSensitive=%v: logged %q", mask, entry)
			}
		})
	}
}

func TestConfig_HandshakeTimeout(t *testing.T) {
	h := newHarness(t, func(s *Server) { s.Config("HandshakeTimeout=0.3") })
	nc, err := net.DialTimeout("tcp", h.addr, waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// The client never sends its request: the server closes the socket.
	wiretest.Wrap(nc, 0).ReadEOF(t)
}

func TestConfig_CompressionThresholdAndServerNoContextTakeover(t *testing.T) {
	for _, noTakeover := range []bool{true, false} {
		h := newHarness(t, func(s *Server) {
			s.Config("CompressionThreshold=100")
			s.Config("ServerNoContextTakeover=" + strconv.FormatBool(noTakeover))
		})
		rc, id := h.rawOpen(t, wiretest.Options{Headers: []string{"Sec-WebSocket-Extensions: permessage-deflate"}})
		ext := rc.Resp.Header.Get("Sec-WebSocket-Extensions")
		if !strings.Contains(ext, "permessage-deflate") || strings.Contains(ext, "server_no_context_takeover") != noTakeover {
			t.Fatalf("ServerNoContextTakeover=%v: extensions %q", noTakeover, ext)
		}
		h.s.SendText(id, strings.Repeat("a", 99))
		h.s.SendText(id, strings.Repeat("a", 100))
		if f := rc.Frame(t); (f.RSV&wiretest.RSV1 != 0) || len(f.Payload) != 99 {
			t.Fatalf("a message under CompressionThreshold: rsv1 %v, %d bytes", (f.RSV&wiretest.RSV1 != 0), len(f.Payload))
		}
		if f := rc.Frame(t); !(f.RSV&wiretest.RSV1 != 0) || len(f.Payload) >= 100 {
			t.Fatalf("a message at CompressionThreshold: rsv1 %v, %d bytes", (f.RSV&wiretest.RSV1 != 0), len(f.Payload))
		}
	}
}
