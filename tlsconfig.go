package wsserver

import (
	"crypto/tls"
	"maps"
	"strconv"
	"strings"

	"github.com/wsserver/wsserver/internal/tlsconf"
)

// sslConfig holds the SSL config settings: the text of each as set (for
// reading back) and its parsed form, which buildTLS applies. It is a value
// inside settings, guarded by Server.mu like the rest; copies share its map
// and slices, so those are replaced on every change, never modified.
type sslConfig struct {
	text map[string]string // the value of each setting that was set, by name

	logPackets     bool
	caCerts        string   // SSLCACerts
	caFile         string   // OpenSSLCAFile
	caDir          string   // OpenSSLCADir
	cipherList     []uint16 // OpenSSLCipherList; nil: no restriction ("DEFAULT")
	enabledSuites  []uint16 // SSLEnabledCipherSuites for TLS 1.0-1.2; nil: crypto/tls's defaults
	suites13       []uint16 // the TLS 1.3 suites SSLEnabledCipherSuites names; nil: all three
	cipherStrength int
	minVersion     uint16 // SSLEnabledProtocols
	maxVersion     uint16
	reuseSession   bool
	checkCRL       int // 0 off, 1 soft-fail, 2 hard-fail
	checkOCSP      int
	includeChain   bool
	keyLogFile     string
	securityFlags  uint32
	sig12, sig13   []tls.SignatureScheme // nil: no restriction
	groups12       []tls.CurveID         // nil: crypto/tls's default
	groups13       []tls.CurveID
}

// sslDefaults are the reference's defaults of the SSL config settings.
var sslDefaults = map[string]string{
	"LogSSLPackets":            "False",
	"OpenSSLCADir":             "",
	"OpenSSLCAFile":            "",
	"OpenSSLCipherList":        "DEFAULT",
	"OpenSSLPrngSeedData":      "",
	"ReuseSSLSession":          "True",
	"SSLCACerts":               "",
	"SSLCheckCRL":              "0",
	"SSLCheckOCSP":             "0",
	"SSLCipherStrength":        "0",
	"SSLEnabledCipherSuites":   "*",
	"SSLEnabledProtocols":      "4032",
	"SSLEnableRenegotiation":   "True",
	"SSLIncludeCertChain":      "False",
	"SSLKeyLogFile":            "",
	"SSLSecurityFlags":         "0",
	"SSLServerCACerts":         "",
	"TLS12SignatureAlgorithms": "sha512-ecdsa,sha512-rsa,sha512-dsa,sha384-ecdsa,sha384-rsa,sha384-dsa,sha256-ecdsa,sha256-rsa,sha256-dsa,sha224-ecdsa,sha224-rsa,sha224-dsa,sha1-ecdsa,sha1-rsa,sha1-dsa",
	"TLS12SupportedGroups":     "ecdhe_secp256r1,ecdhe_secp384r1,ecdhe_secp521r1",
	"TLS13KeyShareGroups":      "ecdhe_x25519,ecdhe_secp256r1,ecdhe_secp384r1,ffdhe_2048,ffdhe_3072",
	"TLS13SignatureAlgorithms": "rsa_pss_sha256,rsa_pss_sha384,rsa_pss_sha512,rsa_pkcs1_sha256,rsa_pkcs1_sha384,rsa_pkcs1_sha512,ecdsa_secp256r1_sha256,ecdsa_secp384r1_sha384,ecdsa_secp521r1_sha512,ed25519,ed448",
	"TLS13SupportedGroups":     "ecdhe_x25519,ecdhe_x448,ecdhe_secp256r1,ecdhe_secp384r1,ecdhe_secp521r1,ffdhe_2048,ffdhe_3072,ffdhe_4096,ffdhe_6144,ffdhe_8192",
}

// sslEntry is one SSL config setting: parse validates a value and returns
// the change it makes to an sslConfig.
type sslEntry struct {
	name  string
	doc   string
	parse func(v string) (apply func(*sslConfig), err error)
	kind  valueKind // of the typed form: kindBool, kindInt or kindString
}

// sslEntries are the SSL config settings that can be set, in the
// reference's order.
var sslEntries = []sslEntry{
	{"LogSSLPackets", "SSLStatus reports every TLS record sent and received (new connections)",
		boolSSL("LogSSLPackets", func(c *sslConfig, b bool) { c.logPackets = b }), kindBool},
	{"OpenSSLCADir", "directory of trusted CA certificates for client certificates (PEM or DER; *.pem, *.crt, *.cer, c_rehash names)",
		caSSL("OpenSSLCADir", func(c *sslConfig, v string) { c.caDir = v }), kindString},
	{"OpenSSLCAFile", "PEM file of trusted CA certificates for client certificates",
		caSSL("OpenSSLCAFile", func(c *sslConfig, v string) { c.caFile = v }), kindString},
	{"OpenSSLCipherList", "OpenSSL cipher list (ciphers(1)) for TLS 1.0-1.2, mapped to Go's suites; DEFAULT: no restriction", parseCipherList, kindString},
	{"OpenSSLPrngSeedData", "not supported: crypto/rand cannot be seeded", parsePrngSeed, kindString},
	{"ReuseSSLSession", "session resumption with session tickets (TLS 1.2 and 1.3)",
		boolSSL("ReuseSSLSession", func(c *sslConfig, b bool) { c.reuseSession = b }), kindBool},
	{"SSLCACerts", "PEM CA certificates trusted for client certificates, advertised in the certificate request",
		caSSL("SSLCACerts", func(c *sslConfig, v string) { c.caCerts = v }), kindString},
	{"SSLCheckCRL", "check client certificates against their CRL distribution points: 0 no, 1 if available, 2 required",
		revocationSSL("SSLCheckCRL", func(c *sslConfig, n int) { c.checkCRL = n }), kindInt},
	{"SSLCheckOCSP", "check client certificates with their OCSP responder: 0 no, 1 if available, 2 required",
		revocationSSL("SSLCheckOCSP", func(c *sslConfig, n int) { c.checkOCSP = n }), kindInt},
	{"SSLCipherStrength", "minimum bulk cipher strength in bits (TLS 1.3 handshakes below it are refused)", parseCipherStrength, kindInt},
	{"SSLEnabledCipherSuites", "cipher suites (IANA or OpenSSL names, ';'-separated); * for crypto/tls's defaults", parseEnabledSuites, kindString},
	{"SSLEnabledProtocols", "TLS versions: TLS1 192, TLS1.1 768, TLS1.2 3072, TLS1.3 12288, or-ed; a contiguous range", parseProtocols, kindInt},
	{"SSLEnableRenegotiation", "True only: crypto/tls answers renegotiation_info and never renegotiates", parseRenegotiation, kindBool},
	{"SSLIncludeCertChain", "SSLClientAuthentication's CertEncoded holds the client's whole chain",
		boolSSL("SSLIncludeCertChain", func(c *sslConfig, b bool) { c.includeChain = b }), kindBool},
	{"SSLKeyLogFile", "file the TLS secrets are appended to (NSS key log format), for Wireshark", parseKeyLogFile, kindString},
	{"SSLSecurityFlags", "client certificate checks to relax: 0x1 time validity, 0x10 unknown CA, 0x20 wrong usage", parseSecurityFlags, kindInt},
	{"SSLServerCACerts", "not applicable: a server validates no server certificate (see SSLCACerts)", parseServerCACerts, kindString},
	{"TLS12SignatureAlgorithms", "signature algorithms allowed in TLS 1.0-1.2 (handshake and client certificate)", parseSigs12, kindString},
	{"TLS12SupportedGroups", "ECDHE groups for TLS 1.0-1.2", parseGroups12, kindString},
	{"TLS13KeyShareGroups", "validated only: a crypto/tls server uses the key share the client sent", parseKeyShare, kindString},
	{"TLS13SignatureAlgorithms", "signature algorithms allowed in TLS 1.3 (handshake and client certificate)", parseSigs13, kindString},
	{"TLS13SupportedGroups", "key exchange groups for TLS 1.3", parseGroups13, kindString},
}

// negotiatedNames are the read-only per-connection SSL settings.
var negotiatedNames = []string{"SSLNegotiatedCipher", "SSLNegotiatedCipherStrength", "SSLNegotiatedCipherSuite",
	"SSLNegotiatedKeyExchange", "SSLNegotiatedKeyExchangeStrength", "SSLNegotiatedVersion"}

// sslSettingTable holds the SSL group of config settings.
var sslSettingTable = func() []setting {
	var t []setting
	for _, e := range sslEntries {
		t = append(t, e.setting())
	}
	for _, name := range negotiatedNames {
		t = append(t, setting{name: name, group: "SSL", connGet: negotiatedGetter(name), goForm: "Connection.TLS",
			doc: "read-only, per connection: Config(\"" + name + "[ConnectionId]\")"})
	}
	return t
}()

// defaultSSLConfig is the parsed form of sslDefaults.
var defaultSSLConfig = func() sslConfig {
	var c sslConfig
	for _, e := range sslEntries {
		apply, err := e.parse(sslDefaults[e.name])
		if err != nil {
			panic("wsserver: the default of " + e.name + ": " + err.Error())
		}
		apply(&c)
	}
	return c
}()

// setting makes the config table entry of an SSL setting.
func (e sslEntry) setting() setting {
	name := e.name
	return setting{name: name, group: "SSL", doc: e.doc, kind: e.kind,
		get: func(s *Server) string {
			s.mu.Lock()
			defer s.mu.Unlock()
			if v, ok := s.cfg.ssl.conf.text[name]; ok {
				return v
			}
			return sslDefaults[name]
		},
		parse: func(v string) (change, error) {
			apply, err := e.parse(v) // may read files: not under s.mu
			if err != nil {
				return nil, err
			}
			return func(s *Server) error {
				c := &s.cfg.ssl.conf
				apply(c)
				text := maps.Clone(c.text) // copies of the settings share the map
				if text == nil {
					text = map[string]string{}
				}
				text[name] = v
				c.text = text
				return nil
			}, nil
		}}
}

func boolSSL(name string, set func(*sslConfig, bool)) func(string) (func(*sslConfig), error) {
	return func(v string) (func(*sslConfig), error) {
		b, err := parseBool(name, v)
		if err != nil {
			return nil, err
		}
		return func(c *sslConfig) { set(c, b) }, nil
	}
}

// caSSL parses SSLCACerts, OpenSSLCAFile and OpenSSLCADir: the certificates
// must load now; buildTLS loads them again at StartListening.
func caSSL(name string, set func(*sslConfig, string)) func(string) (func(*sslConfig), error) {
	return func(v string) (func(*sslConfig), error) {
		if strings.TrimSpace(v) != "" {
			var err error
			switch name {
			case "SSLCACerts":
				_, err = tlsconf.LoadCAPool(v, "", "")
			case "OpenSSLCAFile":
				_, err = tlsconf.LoadCAPool("", v, "")
			default:
				_, err = tlsconf.LoadCAPool("", "", v)
			}
			if err != nil {
				return nil, newError(ErrInvalidValue, "%v", err)
			}
		}
		return func(c *sslConfig) { set(c, v) }, nil
	}
}

func revocationSSL(name string, set func(*sslConfig, int)) func(string) (func(*sslConfig), error) {
	return func(v string) (func(*sslConfig), error) {
		n, err := parseInt(name, v, 0, 2)
		if err != nil {
			return nil, err
		}
		return func(c *sslConfig) { set(c, int(n)) }, nil
	}
}

func parseCipherList(v string) (func(*sslConfig), error) {
	if strings.EqualFold(strings.TrimSpace(v), "DEFAULT") {
		return func(c *sslConfig) { c.cipherList = nil }, nil
	}
	ids, err := tlsconf.ParseOpenSSLCipherList(v)
	if err != nil {
		return nil, tlsconfError(err)
	}
	return func(c *sslConfig) { c.cipherList = ids }, nil
}

func parsePrngSeed(v string) (func(*sslConfig), error) {
	if v != "" {
		return nil, newError(ErrNotSupported, "OpenSSLPrngSeedData: Go's crypto/rand reads the kernel's random source (getrandom) and cannot be seeded; leave it empty")
	}
	return func(*sslConfig) {}, nil
}

func parseCipherStrength(v string) (func(*sslConfig), error) {
	n, err := parseInt("SSLCipherStrength", v, 0, 256)
	if err != nil {
		return nil, newError(ErrInvalidValue, "SSLCipherStrength takes bits from 0 to 256 (the strongest bulk ciphers), not %q", v)
	}
	return func(c *sslConfig) { c.cipherStrength = int(n) }, nil
}

// tls13Suites are the TLS 1.3 suites by IANA name.
var tls13Suites = map[string]uint16{
	"TLS_AES_128_GCM_SHA256":       tls.TLS_AES_128_GCM_SHA256,
	"TLS_AES_256_GCM_SHA384":       tls.TLS_AES_256_GCM_SHA384,
	"TLS_CHACHA20_POLY1305_SHA256": tls.TLS_CHACHA20_POLY1305_SHA256,
}

func parseEnabledSuites(v string) (func(*sslConfig), error) {
	ids, err := tlsconf.ParseEnabledCipherSuites(v)
	if err != nil {
		return nil, tlsconfError(err)
	}
	// crypto/tls cannot configure TLS 1.3 suites; the ones named here are
	// enforced after the handshake (see tlsRuntime.checkConnection).
	var s13 []uint16
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return strings.ContainsRune(";, \t\r\n", r) }) {
		if id, ok := tls13Suites[strings.ToUpper(f)]; ok && !containsID(s13, id) {
			s13 = append(s13, id)
		}
	}
	if len(s13) == len(tls13Suites) {
		s13 = nil
	}
	return func(c *sslConfig) { c.enabledSuites, c.suites13 = ids, s13 }, nil
}

func containsID(ids []uint16, id uint16) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func parseProtocols(v string) (func(*sslConfig), error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 0, 32)
	if err != nil {
		return nil, newError(ErrInvalidValue, "SSLEnabledProtocols takes the or-ed protocol bits (TLS1 192, TLS1.1 768, TLS1.2 3072, TLS1.3 12288), not %q", v)
	}
	lo, hi, err := tlsconf.ParseEnabledProtocols(int(n))
	if err != nil {
		return nil, tlsconfError(err)
	}
	return func(c *sslConfig) { c.minVersion, c.maxVersion = lo, hi }, nil
}

func parseRenegotiation(v string) (func(*sslConfig), error) {
	b, err := parseBool("SSLEnableRenegotiation", v)
	if err != nil {
		return nil, err
	}
	if !b {
		return nil, newError(ErrNotSupported, "SSLEnableRenegotiation=False: crypto/tls always answers the renegotiation_info extension (RFC 5746), which is what keeps renegotiation safe, and a Go server never renegotiates")
	}
	return func(*sslConfig) {}, nil
}

func parseKeyLogFile(v string) (func(*sslConfig), error) {
	if v != "" {
		f, err := tlsconf.OpenKeyLog(v)
		if err != nil {
			return nil, &Error{Code: ErrInvalidValue.Code, Message: ErrInvalidValue.Message + ": SSLKeyLogFile " + strconv.Quote(v) + " cannot be opened for appending", Err: err}
		}
		f.Close()
	}
	return func(c *sslConfig) { c.keyLogFile = v }, nil
}

// securityFlagsKnown are the reference's SSLSecurityFlags bits.
const securityFlagsKnown = 0x1 | 0x2 | 0x4 | 0x10 | 0x20 | 0x100 | 0x200 | 0x400 | 0x800 | 0x4000 | 0x8000 | 0x80000000

func parseSecurityFlags(v string) (func(*sslConfig), error) {
	n, err := strconv.ParseUint(strings.TrimSpace(v), 0, 32)
	if err != nil {
		return nil, newError(ErrInvalidValue, "SSLSecurityFlags takes a number (decimal, or hex as 0x80000000), not %q", v)
	}
	if n&^securityFlagsKnown != 0 {
		return nil, newError(ErrInvalidValue, "SSLSecurityFlags=%s: unknown bits 0x%X", v, n&^securityFlagsKnown)
	}
	return func(c *sslConfig) { c.securityFlags = uint32(n) }, nil
}

func parseServerCACerts(v string) (func(*sslConfig), error) {
	if strings.TrimSpace(v) != "" {
		return nil, newError(ErrNotSupported, "SSLServerCACerts does not apply to a server, which validates no server certificate; client certificates are verified against SSLCACerts, OpenSSLCAFile and OpenSSLCADir")
	}
	return func(*sslConfig) {}, nil
}

func parseSigs12(v string) (func(*sslConfig), error) {
	schemes, _, err := tlsconf.ParseTLS12SignatureAlgorithms(v)
	if err != nil {
		return nil, tlsconfError(err)
	}
	if isDefaultList("TLS12SignatureAlgorithms", v) {
		schemes = nil // the reference's list of all it supports: crypto/tls's defaults
	}
	return func(c *sslConfig) { c.sig12 = schemes }, nil
}

func parseSigs13(v string) (func(*sslConfig), error) {
	schemes, _, err := tlsconf.ParseTLS13SignatureAlgorithms(v)
	if err != nil {
		return nil, tlsconfError(err)
	}
	if isDefaultList("TLS13SignatureAlgorithms", v) {
		schemes = nil // the reference's list of all it supports: crypto/tls's defaults
	}
	return func(c *sslConfig) { c.sig13 = schemes }, nil
}

func parseGroups12(v string) (func(*sslConfig), error) {
	groups, _, err := tlsconf.ParseTLS12SupportedGroups(v)
	if err != nil {
		return nil, tlsconfError(err)
	}
	if isDefaultList("TLS12SupportedGroups", v) {
		groups = nil // the reference's list of all it supports: crypto/tls's defaults
	}
	return func(c *sslConfig) { c.groups12 = groups }, nil
}

func parseGroups13(v string) (func(*sslConfig), error) {
	groups, _, err := tlsconf.ParseTLS13SupportedGroups(v)
	if err != nil {
		return nil, tlsconfError(err)
	}
	if isDefaultList("TLS13SupportedGroups", v) {
		groups = nil // the reference's list of all it supports: crypto/tls's defaults
	}
	return func(c *sslConfig) { c.groups13 = groups }, nil
}

// isDefaultList reports whether v is the reference's default of a list
// setting (ignoring case and spacing). The defaults of the group and
// signature settings list everything the reference supports, so they stand
// for crypto/tls's defaults (everything Go supports, such as X25519 in TLS
// 1.2, Ed25519 and RSA-PSS signatures, and the post-quantum hybrid groups);
// a list set to anything else applies as written.
func isDefaultList(name, v string) bool {
	norm := func(x string) string {
		return strings.Join(strings.FieldsFunc(strings.ToLower(x), func(r rune) bool { return strings.ContainsRune(",; \t", r) }), ",")
	}
	return norm(v) == norm(sslDefaults[name])
}

func parseKeyShare(v string) (func(*sslConfig), error) {
	if _, _, err := tlsconf.ParseTLS13KeyShareGroups(v); err != nil {
		return nil, tlsconfError(err)
	}
	return func(*sslConfig) {}, nil
}

// tlsconfError turns a tlsconf parse error into ErrNotSupported when it
// says crypto/tls cannot do what the value asks, and into ErrInvalidValue
// when the value is wrong.
func tlsconfError(err error) error {
	msg := err.Error()
	code := ErrInvalidValue
	if !strings.Contains(msg, "unknown") && !strings.Contains(msg, "enables no protocol") &&
		(strings.Contains(msg, "not implemented") || strings.Contains(msg, "not supported") ||
			strings.Contains(msg, "only supports") || strings.Contains(msg, "Platform")) {
		code = ErrNotSupported
	}
	return &Error{Code: code.Code, Message: code.Message + ": " + msg}
}

// negotiatedGetter reads a negotiated TLS parameter of a connection
// (Config("SSLNegotiatedVersion[3]")): "" for a plaintext connection.
func negotiatedGetter(name string) func(c *Connection) string {
	return func(c *Connection) string {
		tc := c.tlsConn()
		if tc == nil {
			return ""
		}
		n := tlsconf.Describe(tc.ConnectionState(), serverLeaf(tc))
		switch name {
		case "SSLNegotiatedCipher":
			return n.Cipher
		case "SSLNegotiatedCipherStrength":
			return strconv.Itoa(n.CipherStrength)
		case "SSLNegotiatedCipherSuite":
			return n.CipherSuite
		case "SSLNegotiatedKeyExchange":
			return n.KeyExchange
		case "SSLNegotiatedKeyExchangeStrength":
			return strconv.Itoa(n.KeyExchangeStrength)
		case "SSLNegotiatedVersion":
			return n.Version
		}
		return ""
	}
}
