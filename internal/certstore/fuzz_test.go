package certstore

import (
	"errors"
	"testing"
)

// FuzzOpenAuto feeds arbitrary content to Open(Auto, ...): it must never
// panic, and every failure must be an *Error with a reference code and a
// message. The seed corpus (testdata/fuzz/FuzzOpenAuto) has a PEM
// certificate and key, a JWK, a PKCS#7 bag, a PFX (password "pw"), an SSH
// key and garbage.
func FuzzOpenAuto(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n"))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","d":"AQ"}]}`))
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x03})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Open(Auto, data, "pw")
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code < 270 || e.Code > 284 || e.Message == "" {
				t.Fatalf("bad error %#v", err)
			}
			if s != nil {
				t.Fatal("store with error")
			}
			return
		}
		if len(s.Entries) == 0 {
			t.Fatal("store without entries")
		}
		for _, e := range s.Entries {
			_ = e.Subject()
			_, _ = e.TLSCertificate()
		}
		_, _, _ = s.Select("*")
		_, _, _ = s.Select("CN=a")
	})
}
