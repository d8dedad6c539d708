package tlsconf

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// opensslEmpty are OpenSSL cipher-list keywords whose suites crypto/tls does
// not implement at all: in Go they select nothing.
var opensslEmpty = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`COMPLEMENTOFALL ENULL NULL ANULL ADH AECDH
		LOW EXP EXPORT EXPORT40 EXPORT56
		KDHE DHE EDH KEDH DH KDHR KDHD KDH KECDHR KECDHD
		ADSS DSS AGOST AGOST01 AGOST12 KGOST GOST94 GOST89MAC
		PSK KPSK APSK KECDHEPSK KDHEPSK KRSAPSK ECDHEPSK DHEPSK RSAPSK
		SRP KSRP ASRP
		DES RC2 IDEA SEED MD5 CAMELLIA CAMELLIA128 CAMELLIA256
		ARIA ARIA128 ARIA256 ARIAGCM AESCCM AESCCM8 CCM CCM8
		SUITEB128 SUITEB128ONLY SUITEB192 SSLV2`) {
		opensslEmpty[k] = true
	}
}

// opensslMatch returns the Go suites one OpenSSL keyword or cipher name
// selects, and whether the word is known.
func opensslMatch(word string) ([]*suite, bool) {
	u := strings.ToUpper(word)
	all := func(pred func(*suite) bool) []*suite {
		var out []*suite
		for i := range goSuites {
			if s := &goSuites[i]; !s.tls13 && pred(s) {
				out = append(out, s)
			}
		}
		return out
	}
	switch u {
	case "ALL":
		return all(func(*suite) bool { return true }), true
	case "DEFAULT":
		return all(func(s *suite) bool { return s.goDef }), true
	case "COMPLEMENTOFDEFAULT":
		return all(func(s *suite) bool { return !s.goDef }), true
	case "HIGH":
		return all(func(s *suite) bool { return s.high }), true
	case "MEDIUM":
		return all(func(s *suite) bool { return !s.high }), true
	case "KRSA", "RSA":
		return all(func(s *suite) bool { return s.kx == "RSA" }), true
	case "ARSA":
		return all(func(s *suite) bool { return s.au == "RSA" }), true
	case "KECDHE", "KEECDH", "ECDHE", "EECDH", "ECDH":
		return all(func(s *suite) bool { return s.kx == "ECDHE" }), true
	case "AECDSA", "ECDSA":
		return all(func(s *suite) bool { return s.au == "ECDSA" }), true
	case "AES":
		return all(func(s *suite) bool { return strings.HasPrefix(s.encKey, "AES") }), true
	case "AES128", "AES256":
		return all(func(s *suite) bool { return s.encKey == u }), true
	case "AESGCM":
		return all(func(s *suite) bool { return s.gcm }), true
	case "CHACHA20":
		return all(func(s *suite) bool { return s.encKey == "CHACHA20" }), true
	case "3DES":
		return all(func(s *suite) bool { return s.encKey == "3DES" }), true
	case "RC4":
		return all(func(s *suite) bool { return s.encKey == "RC4" }), true
	case "SHA1", "SHA":
		return all(func(s *suite) bool { return s.mac == "SHA1" }), true
	case "SHA256", "SHA384":
		return all(func(s *suite) bool { return s.mac == u }), true
	case "TLSV1.2":
		return all(func(s *suite) bool { return s.minVer == "TLSv1.2" }), true
	case "TLSV1", "TLSV1.0":
		return all(func(s *suite) bool { return s.minVer == "TLSv1" }), true
	case "SSLV3":
		return all(func(s *suite) bool { return s.minVer == "SSLv3" }), true
	}
	if opensslEmpty[u] {
		return nil, true
	}
	if s, ok := suiteByName[u]; ok {
		if s.tls13 {
			return nil, true // TLS 1.3 suites are not part of a cipher list
		}
		return []*suite{s}, true
	}
	if strings.HasPrefix(u, "EDH-") {
		u = "DHE-" + u[4:]
	}
	if otherByName[u] != "" || otherByName["EDH-"+strings.TrimPrefix(u, "DHE-")] != "" {
		return nil, true // a real suite Go does not implement
	}
	return nil, false
}

// ParseOpenSSLCipherList maps OpenSSLCipherList, an OpenSSL cipher list
// (ciphers(1), "CIPHER LIST FORMAT"), to tls.Config.CipherSuites.
//
// Supported: items separated by ':' (or ',', ';', spaces); OpenSSL suite
// names ("ECDHE-RSA-AES128-GCM-SHA256"); keywords ALL, DEFAULT,
// COMPLEMENTOFDEFAULT, HIGH, MEDIUM, kRSA/RSA, aRSA, kECDHE/ECDHE/EECDH,
// aECDSA/ECDSA, AES, AES128, AES256, AESGCM, CHACHA20, 3DES, RC4,
// SHA1/SHA, SHA256, SHA384, TLSv1.2, TLSv1, SSLv3; combinations with '+'
// ("ECDHE+AESGCM"); the prefixes '!' (remove for good), '-' (remove) and '+'
// (move to the end); "@STRENGTH" (sort by strength). "@SECLEVEL=n" is
// accepted and ignored.
//
// In Go, DEFAULT is crypto/tls's default list (DefaultCipherSuites), not
// OpenSSL's compiled-in one; MEDIUM is 3DES and RC4; ALL is every suite Go
// implements. Keywords for algorithms Go lacks (DHE, static DH/ECDH, DSS,
// PSK, SRP, Camellia, ARIA, CCM, NULL, aNULL, EXPORT, LOW ...) and OpenSSL
// names of such suites select nothing, as OpenSSL treats names its build
// lacks. TLS 1.3 suite names select nothing: Go always enables all three.
// Unknown words are an error, and so is a list that selects no suite.
//
// The order of the result follows OpenSSL's rules, but crypto/tls ignores
// the order of CipherSuites and chooses by its own preference.
func ParseOpenSSLCipherList(list string) ([]uint16, error) {
	var (
		cur     []*suite
		banned  = map[uint16]bool{}
		ignored []string
	)
	items := strings.FieldsFunc(list, func(r rune) bool { return r == ':' || r == ',' || r == ';' || r == ' ' })
	if len(items) == 0 {
		return nil, fmt.Errorf("OpenSSLCipherList is empty")
	}
	for _, item := range items {
		if strings.HasPrefix(item, "@") {
			u := strings.ToUpper(item)
			switch {
			case u == "@STRENGTH":
				sort.SliceStable(cur, func(i, j int) bool { return cur[i].bits > cur[j].bits })
			case strings.HasPrefix(u, "@SECLEVEL="):
				if _, err := strconv.Atoi(u[len("@SECLEVEL="):]); err != nil {
					return nil, fmt.Errorf("OpenSSLCipherList: bad %q", item)
				}
			default:
				return nil, fmt.Errorf("OpenSSLCipherList: unknown command %q", item)
			}
			continue
		}
		op := byte(0)
		body := item
		if c := item[0]; c == '!' || c == '-' || c == '+' {
			op, body = c, item[1:]
		}
		if body == "" {
			return nil, fmt.Errorf("OpenSSLCipherList: empty item %q", item)
		}
		// A '+'-combination selects the suites matching every part.
		var sel []*suite
		for i, part := range strings.Split(body, "+") {
			m, ok := opensslMatch(part)
			if !ok {
				return nil, fmt.Errorf("OpenSSLCipherList: unknown cipher or keyword %q", part)
			}
			if i == 0 {
				sel = m
			} else {
				sel = slices.DeleteFunc(sel, func(s *suite) bool { return !slices.Contains(m, s) })
			}
		}
		if len(sel) == 0 {
			ignored = append(ignored, item)
		}
		switch op {
		case '!':
			for _, s := range sel {
				banned[s.id] = true
			}
			cur = slices.DeleteFunc(cur, func(s *suite) bool { return banned[s.id] })
		case '-':
			cur = slices.DeleteFunc(cur, func(s *suite) bool { return slices.Contains(sel, s) })
		case '+':
			var moved []*suite
			cur = slices.DeleteFunc(cur, func(s *suite) bool {
				if slices.Contains(sel, s) {
					moved = append(moved, s)
					return true
				}
				return false
			})
			cur = append(cur, moved...)
		default:
			for _, s := range sel {
				if !banned[s.id] && !slices.Contains(cur, s) {
					cur = append(cur, s)
				}
			}
		}
	}
	if len(cur) == 0 {
		msg := "OpenSSLCipherList %q selects no cipher suite that Go's crypto/tls implements"
		if len(ignored) > 0 {
			return nil, fmt.Errorf(msg+" (nothing for: %s)", list, strings.Join(ignored, ", "))
		}
		return nil, fmt.Errorf(msg, list)
	}
	ids := make([]uint16, len(cur))
	for i, s := range cur {
		ids[i] = s.id
	}
	return ids, nil
}
