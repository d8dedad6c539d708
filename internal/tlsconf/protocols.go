// Package tlsconf maps the WSServer reference's SSL configuration settings
// (SSLEnabledProtocols, SSLEnabledCipherSuites, OpenSSLCipherList,
// SSLCipherStrength, TLS12/TLS13 groups and signature algorithms,
// SSLSecurityFlags, SSLCACerts, OpenSSLCAFile, OpenSSLCADir, SSLKeyLogFile)
// onto crypto/tls, and reads the reference's negotiated-state values
// (SSLNegotiatedCipher ... SSLNegotiatedVersion) and event parameters
// (SSLConnectionRequest, SSLClientAuthentication) back from crypto/tls.
//
// Every mapping is a pure function; values crypto/tls cannot honour give
// errors that say so. The package does not depend on the rest of the server.
package tlsconf

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// The reference's SSLEnabledProtocols bits. Each protocol has two bits; a
// protocol counts as enabled when either of its bits is set.
const (
	ProtocolTLS13 = 0x3000 // 12288
	ProtocolTLS12 = 0x0C00 // 3072
	ProtocolTLS11 = 0x0300 // 768
	ProtocolTLS1  = 0x00C0 // 192
	ProtocolSSL3  = 0x0030 // 48, Platform only in the reference
	ProtocolSSL2  = 0x000C // 12, Platform only in the reference

	// DefaultEnabledProtocols is the reference's default, 4032: TLS 1.0,
	// 1.1 and 1.2.
	DefaultEnabledProtocols = ProtocolTLS12 | ProtocolTLS11 | ProtocolTLS1
)

var protocolBits = []struct {
	bits    int
	version uint16
	name    string
}{
	{ProtocolTLS1, tls.VersionTLS10, "TLS1"},
	{ProtocolTLS11, tls.VersionTLS11, "TLS1.1"},
	{ProtocolTLS12, tls.VersionTLS12, "TLS1.2"},
	{ProtocolTLS13, tls.VersionTLS13, "TLS1.3"},
}

// ParseEnabledProtocols maps SSLEnabledProtocols to tls.Config.MinVersion
// and MaxVersion.
//
// crypto/tls supports a contiguous range of versions only, so a set with a
// gap (TLS1 and TLS1.2 without TLS1.1) is an error rather than a silently
// widened range. SSL2 and SSL3 are "Platform Only" in the reference and
// crypto/tls has neither: alone they are an error; next to TLS versions they
// are ignored. Bits outside the reference's are an error.
//
// Note: Go's server default minimum is TLS 1.2; the returned MinVersion is
// always set explicitly, so the reference's default 4032 does enable TLS 1.0
// and 1.1.
func ParseEnabledProtocols(value int) (minVersion, maxVersion uint16, err error) {
	const known = ProtocolTLS13 | ProtocolTLS12 | ProtocolTLS11 | ProtocolTLS1 | ProtocolSSL3 | ProtocolSSL2
	if value&^known != 0 {
		return 0, 0, fmt.Errorf("SSLEnabledProtocols=%d (0x%X): unknown bits 0x%X", value, value, value&^known)
	}
	var enabled []int
	for i, p := range protocolBits {
		if value&p.bits != 0 {
			enabled = append(enabled, i)
		}
	}
	if len(enabled) == 0 {
		if value&(ProtocolSSL2|ProtocolSSL3) != 0 {
			return 0, 0, fmt.Errorf("SSLEnabledProtocols=%d: SSL 2.0 and SSL 3.0 are not supported (Go's crypto/tls implements TLS 1.0 to 1.3)", value)
		}
		return 0, 0, fmt.Errorf("SSLEnabledProtocols=%d enables no protocol", value)
	}
	lo, hi := enabled[0], enabled[len(enabled)-1]
	if hi-lo+1 != len(enabled) {
		var names, missing []string
		for _, i := range enabled {
			names = append(names, protocolBits[i].name)
		}
		for i := lo; i <= hi; i++ {
			if value&protocolBits[i].bits == 0 {
				missing = append(missing, protocolBits[i].name)
			}
		}
		return 0, 0, fmt.Errorf("SSLEnabledProtocols=%d enables %s but not %s: Go's crypto/tls only supports a contiguous range of versions",
			value, strings.Join(names, ", "), strings.Join(missing, ", "))
	}
	return protocolBits[lo].version, protocolBits[hi].version, nil
}

// EnabledProtocols is the reverse of ParseEnabledProtocols: the
// SSLEnabledProtocols value (both bits of each protocol) for the range
// minVersion..maxVersion. Zero values mean crypto/tls's defaults (TLS 1.2
// for a server's minimum, TLS 1.3 for the maximum).
func EnabledProtocols(minVersion, maxVersion uint16) int {
	if minVersion == 0 {
		minVersion = tls.VersionTLS12
	}
	if maxVersion == 0 {
		maxVersion = tls.VersionTLS13
	}
	v := 0
	for _, p := range protocolBits {
		if p.version >= minVersion && p.version <= maxVersion {
			v |= p.bits
		}
	}
	return v
}

// VersionName returns the reference's name of a TLS version, as
// SSLNegotiatedVersion reports it: "TLS1.0", "TLS1.1", "TLS1.2", "TLS1.3"
// ("SSL3" for 0x0300; otherwise "0xXXXX").
func VersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLS1.0"
	case tls.VersionTLS11:
		return "TLS1.1"
	case tls.VersionTLS12:
		return "TLS1.2"
	case tls.VersionTLS13:
		return "TLS1.3"
	case 0x0300:
		return "SSL3"
	}
	return fmt.Sprintf("0x%04X", v)
}

// PredictVersion returns the version crypto/tls's server will negotiate
// with a client: like crypto/tls, the first version in the client's
// preference order (ClientHelloInfo.SupportedVersions) within
// minVersion..maxVersion. It is meant for choosing a certificate in GetCertificate or
// GetConfigForClient before the version is known. ok is false when there is
// no common version.
func PredictVersion(hello *tls.ClientHelloInfo, minVersion, maxVersion uint16) (version uint16, ok bool) {
	if minVersion == 0 {
		minVersion = tls.VersionTLS12
	}
	if maxVersion == 0 {
		maxVersion = tls.VersionTLS13
	}
	if hello == nil {
		return 0, false
	}
	for _, v := range hello.SupportedVersions {
		if v >= minVersion && v <= maxVersion {
			return v, true
		}
	}
	return 0, false
}
