package certstore

import "strconv"

// StoreType is the reference's TipwCertStoreTypes value (SSLCertStoreType and
// the CertStoreType parameter of SSLConnectionRequest). The numbers are the
// reference's and must not change.
type StoreType int

// The reference's certificate store types, with their numbers.
const (
	// User is a Windows certificate store owned by the current user (cstUser).
	User StoreType = 0
	// Machine is a Windows machine certificate store (cstMachine).
	Machine StoreType = 1
	// PFXFile is the name of a PKCS#12 file (cstPFXFile).
	PFXFile StoreType = 2
	// PFXBlob is the content of a PKCS#12 file, binary or base64 (cstPFXBlob).
	PFXBlob StoreType = 3
	// JKSFile is the name of a Java Key Store file (cstJKSFile).
	JKSFile StoreType = 4
	// JKSBlob is the content of a Java Key Store (cstJKSBlob).
	JKSBlob StoreType = 5
	// PEMKeyFile is the name of a PEM file with a private key and optional
	// certificates (cstPEMKeyFile).
	PEMKeyFile StoreType = 6
	// PEMKeyBlob is PEM text (or base64 of it) with a private key and optional
	// certificates (cstPEMKeyBlob).
	PEMKeyBlob StoreType = 7
	// PublicKeyFile is the name of a file with a PEM or DER certificate
	// (cstPublicKeyFile).
	PublicKeyFile StoreType = 8
	// PublicKeyBlob is a PEM or DER certificate, binary or base64
	// (cstPublicKeyBlob).
	PublicKeyBlob StoreType = 9
	// SSHPublicKeyBlob is an SSH-style public key (cstSSHPublicKeyBlob).
	SSHPublicKeyBlob StoreType = 10
	// P7BFile is the name of a PKCS#7 certificates file (cstP7BFile).
	P7BFile StoreType = 11
	// P7BBlob is the content of a PKCS#7 certificates file (cstP7BBlob).
	P7BBlob StoreType = 12
	// SSHPublicKeyFile is the name of a file with an SSH-style public key
	// (cstSSHPublicKeyFile).
	SSHPublicKeyFile StoreType = 13
	// PPKFile is the name of a PuTTY private key file (cstPPKFile).
	PPKFile StoreType = 14
	// PPKBlob is the content of a PuTTY private key file (cstPPKBlob).
	PPKBlob StoreType = 15
	// XMLFile is the name of a file with a key in .NET XML format (cstXMLFile).
	XMLFile StoreType = 16
	// XMLBlob is a key in .NET XML format (cstXMLBlob).
	XMLBlob StoreType = 17
	// JWKFile is the name of a file with a JSON Web Key or JWK Set
	// (cstJWKFile).
	JWKFile StoreType = 18
	// JWKBlob is a JSON Web Key or JWK Set (cstJWKBlob).
	JWKBlob StoreType = 19
	// SecurityKey is a hardware security key (cstSecurityKey).
	SecurityKey StoreType = 20
	// BCFKSFile is the name of a Bouncy Castle FIPS key store file
	// (cstBCFKSFile).
	BCFKSFile StoreType = 21
	// BCFKSBlob is the content of a Bouncy Castle FIPS key store
	// (cstBCFKSBlob).
	BCFKSBlob StoreType = 22
	// PKCS11 is a key on a PKCS#11 token (cstPKCS11).
	PKCS11 StoreType = 23
	// Auto detects the type from the content (cstAuto).
	Auto StoreType = 99
)

var storeTypeNames = map[StoreType]string{
	User:             "User",
	Machine:          "Machine",
	PFXFile:          "PFXFile",
	PFXBlob:          "PFXBlob",
	JKSFile:          "JKSFile",
	JKSBlob:          "JKSBlob",
	PEMKeyFile:       "PEMKeyFile",
	PEMKeyBlob:       "PEMKeyBlob",
	PublicKeyFile:    "PublicKeyFile",
	PublicKeyBlob:    "PublicKeyBlob",
	SSHPublicKeyBlob: "SSHPublicKeyBlob",
	P7BFile:          "P7BFile",
	P7BBlob:          "P7BBlob",
	SSHPublicKeyFile: "SSHPublicKeyFile",
	PPKFile:          "PPKFile",
	PPKBlob:          "PPKBlob",
	XMLFile:          "XMLFile",
	XMLBlob:          "XMLBlob",
	JWKFile:          "JWKFile",
	JWKBlob:          "JWKBlob",
	SecurityKey:      "SecurityKey",
	BCFKSFile:        "BCFKSFile",
	BCFKSBlob:        "BCFKSBlob",
	PKCS11:           "PKCS11",
	Auto:             "Auto",
}

// String returns the Go name of the store type ("PFXFile"), or
// "StoreType(n)" for a number the reference does not define.
func (t StoreType) String() string {
	if s, ok := storeTypeNames[t]; ok {
		return s
	}
	return "StoreType(" + strconv.Itoa(int(t)) + ")"
}

// Valid reports whether t is one of the reference's store type numbers.
func (t StoreType) Valid() bool {
	_, ok := storeTypeNames[t]
	return ok
}

// IsFile reports whether the store argument of Open names a file for t
// (the *File types). For Auto it is false: Auto accepts both.
func (t StoreType) IsFile() bool {
	switch t {
	case PFXFile, JKSFile, PEMKeyFile, PublicKeyFile, P7BFile, SSHPublicKeyFile,
		PPKFile, XMLFile, JWKFile, BCFKSFile:
		return true
	}
	return false
}
