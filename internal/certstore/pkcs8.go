package certstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
)

// PKCS#5 / PKCS#8 object identifiers (RFC 8018, RFC 5958).
var (
	oidPBES2         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidScrypt        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11591, 4, 11}
	oidHMACWithSHA1  = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA224    = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}
	oidHMACSHA256    = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACSHA384    = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACSHA512    = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidAES128CBC     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidDESEDE3CBC    = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
	oidPKCS12PBEBase = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1}
)

// maxPBKDF2Iterations bounds the work an untrusted key file can ask for.
const maxPBKDF2Iterations = 10_000_000

type encryptedPrivateKeyInfo struct {
	Algo pkix.AlgorithmIdentifier
	Data []byte
}

type pbes2Params struct {
	KDF pkix.AlgorithmIdentifier
	Enc pkix.AlgorithmIdentifier
}

type pbkdf2Params struct {
	Salt      []byte
	Iter      int
	KeyLength int                      `asn1:"optional"`
	PRF       pkix.AlgorithmIdentifier `asn1:"optional"`
}

// decryptPKCS8 decrypts an EncryptedPrivateKeyInfo (PEM "ENCRYPTED PRIVATE
// KEY") protected with PBES2 and returns the PKCS#8 PrivateKeyInfo DER.
func decryptPKCS8(der []byte, password string) ([]byte, error) {
	var info encryptedPrivateKeyInfo
	if rest, err := asn1.Unmarshal(der, &info); err != nil || len(rest) != 0 {
		return nil, errors.New("malformed encrypted PKCS#8 key")
	}
	alg := info.Algo.Algorithm
	if !alg.Equal(oidPBES2) {
		if len(alg) == len(oidPKCS12PBEBase)+1 && alg[:len(oidPKCS12PBEBase)].Equal(oidPKCS12PBEBase) {
			return nil, fmt.Errorf("PKCS#12 PBE encryption (%s) of PKCS#8 keys is not supported: re-encrypt with `openssl pkcs8 -topk8 -v2 aes256`", alg)
		}
		return nil, fmt.Errorf("encryption scheme %s is not supported (PBES2 only)", alg)
	}
	var params pbes2Params
	if _, err := asn1.Unmarshal(info.Algo.Parameters.FullBytes, &params); err != nil {
		return nil, errors.New("malformed PBES2 parameters")
	}
	if params.KDF.Algorithm.Equal(oidScrypt) {
		return nil, errors.New("scrypt key derivation is not supported (PBKDF2 only): re-encrypt with `openssl pkcs8 -topk8 -v2 aes256`")
	}
	if !params.KDF.Algorithm.Equal(oidPBKDF2) {
		return nil, fmt.Errorf("key derivation %s is not supported (PBKDF2 only)", params.KDF.Algorithm)
	}
	var kdf pbkdf2Params
	if _, err := asn1.Unmarshal(params.KDF.Parameters.FullBytes, &kdf); err != nil {
		return nil, errors.New("malformed PBKDF2 parameters")
	}
	if kdf.Iter <= 0 || kdf.Iter > maxPBKDF2Iterations {
		return nil, fmt.Errorf("PBKDF2 iteration count %d is out of range (1..%d)", kdf.Iter, maxPBKDF2Iterations)
	}
	var newHash func() hash.Hash
	switch prf := kdf.PRF.Algorithm; {
	case len(prf) == 0 || prf.Equal(oidHMACWithSHA1):
		newHash = sha1.New
	case prf.Equal(oidHMACSHA224):
		newHash = sha256.New224
	case prf.Equal(oidHMACSHA256):
		newHash = sha256.New
	case prf.Equal(oidHMACSHA384):
		newHash = sha512.New384
	case prf.Equal(oidHMACSHA512):
		newHash = sha512.New
	default:
		return nil, fmt.Errorf("PBKDF2 pseudo-random function %s is not supported", prf)
	}

	var keyLen int
	var newCipher func([]byte) (cipher.Block, error)
	switch enc := params.Enc.Algorithm; {
	case enc.Equal(oidAES128CBC):
		keyLen, newCipher = 16, aes.NewCipher
	case enc.Equal(oidAES192CBC):
		keyLen, newCipher = 24, aes.NewCipher
	case enc.Equal(oidAES256CBC):
		keyLen, newCipher = 32, aes.NewCipher
	case enc.Equal(oidDESEDE3CBC):
		keyLen, newCipher = 24, des.NewTripleDESCipher
	default:
		return nil, fmt.Errorf("cipher %s is not supported (AES-CBC and DES-EDE3-CBC only)", enc)
	}
	if kdf.KeyLength != 0 && kdf.KeyLength != keyLen {
		return nil, fmt.Errorf("PBKDF2 key length %d does not fit the cipher", kdf.KeyLength)
	}
	var iv []byte
	if _, err := asn1.Unmarshal(params.Enc.Parameters.FullBytes, &iv); err != nil {
		return nil, errors.New("malformed cipher IV")
	}
	key, err := pbkdf2.Key(newHash, password, kdf.Salt, kdf.Iter, keyLen)
	if err != nil {
		return nil, fmt.Errorf("PBKDF2: %w", err)
	}
	block, err := newCipher(key)
	if err != nil {
		return nil, err
	}
	bs := block.BlockSize()
	if len(iv) != bs {
		return nil, errors.New("malformed cipher IV")
	}
	if len(info.Data) == 0 || len(info.Data)%bs != 0 {
		return nil, errors.New("malformed encrypted data")
	}
	out := make([]byte, len(info.Data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, info.Data)
	pad := int(out[len(out)-1])
	if pad == 0 || pad > bs {
		return nil, errWrongPassword
	}
	for _, b := range out[len(out)-pad:] {
		if int(b) != pad {
			return nil, errWrongPassword
		}
	}
	return out[:len(out)-pad], nil
}
