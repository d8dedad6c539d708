package wsserver

import (
	"maps"
	"strings"
)

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

// sslSettingTable holds the SSL group of config settings.
var sslSettingTable = func() []setting {
	var t []setting
	for _, name := range []string{"LogSSLPackets", "OpenSSLCADir", "OpenSSLCAFile", "OpenSSLCipherList",
		"OpenSSLPrngSeedData", "ReuseSSLSession", "SSLCACerts", "SSLCheckCRL", "SSLCheckOCSP",
		"SSLCipherStrength", "SSLEnabledCipherSuites", "SSLEnabledProtocols", "SSLEnableRenegotiation",
		"SSLIncludeCertChain", "SSLKeyLogFile", "SSLSecurityFlags", "SSLServerCACerts",
		"TLS12SignatureAlgorithms", "TLS12SupportedGroups", "TLS13KeyShareGroups",
		"TLS13SignatureAlgorithms", "TLS13SupportedGroups"} {
		t = append(t, storedSSLSetting(name))
	}
	for _, name := range []string{"SSLNegotiatedCipher", "SSLNegotiatedCipherStrength", "SSLNegotiatedCipherSuite",
		"SSLNegotiatedKeyExchange", "SSLNegotiatedKeyExchangeStrength", "SSLNegotiatedVersion"} {
		t = append(t, setting{name: name, group: "SSL", connGet: negotiatedGetter(name)})
	}
	return t
}()

func storedSSLSetting(name string) setting {
	return setting{name: name, group: "SSL",
		get: func(s *Server) string {
			s.mu.Lock()
			defer s.mu.Unlock()
			if v, ok := s.cfg.ssl.values[name]; ok {
				return v
			}
			return sslDefaults[name]
		},
		set: func(s *Server, v string) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			// Copy on write: connections hold copies of the settings.
			values := maps.Clone(s.cfg.ssl.values)
			if values == nil {
				values = map[string]string{}
			}
			values[name] = v
			s.cfg.ssl.values = values
			return nil
		}}
}

// negotiatedGetter reads a negotiated TLS parameter of a connection.
func negotiatedGetter(name string) func(c *Connection) string {
	return func(c *Connection) string {
		if c.tc == nil {
			return ""
		}
		cs := c.tc.ConnectionState()
		switch name {
		case "SSLNegotiatedVersion":
			return strings.ReplaceAll(tlsVersionName(cs.Version), " ", "")
		case "SSLNegotiatedCipherSuite":
			return cipherSuiteName(cs.CipherSuite)
		}
		return ""
	}
}
