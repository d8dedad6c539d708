package certstore

import "fmt"

// The reference's SSL error codes (WSServer reference, "Error Codes").
const (
	// CodeSecurityLibrary is 270: "Cannot load specified security library."
	CodeSecurityLibrary = 270
	// CodeOpenStore is 271: "Cannot open certificate store."
	CodeOpenStore = 271
	// CodeCertNotFound is 272: "Cannot find specified certificate."
	CodeCertNotFound = 272
	// CodeCredentials is 273: "Cannot acquire security credentials."
	CodeCredentials = 273
	// CodeChainNotFound is 274: "Cannot find certificate chain."
	CodeChainNotFound = 274
	// CodeChainVerify is 275: "Cannot verify certificate chain."
	CodeChainVerify = 275
	// CodeHandshake is 276: "Error during handshake."
	CodeHandshake = 276
	// CodeVerifyCert is 280: "Error verifying certificate."
	CodeVerifyCert = 280
	// CodeClientCertNotFound is 281: "Could not find client certificate."
	CodeClientCertNotFound = 281
	// CodeServerCertNotFound is 282: "Could not find server certificate."
	CodeServerCertNotFound = 282
	// CodeEncrypt is 283: "Error encrypting data."
	CodeEncrypt = 283
	// CodeDecrypt is 284: "Error decrypting data."
	CodeDecrypt = 284
)

// codeText is the reference's wording of each code, lowercased; messages
// start with it.
var codeText = map[int]string{
	CodeSecurityLibrary:    "cannot load specified security library",
	CodeOpenStore:          "cannot open certificate store",
	CodeCertNotFound:       "cannot find specified certificate",
	CodeCredentials:        "cannot acquire security credentials",
	CodeChainNotFound:      "cannot find certificate chain",
	CodeChainVerify:        "cannot verify certificate chain",
	CodeHandshake:          "error during handshake",
	CodeVerifyCert:         "error verifying certificate",
	CodeClientCertNotFound: "could not find client certificate",
	CodeServerCertNotFound: "could not find server certificate",
	CodeEncrypt:            "error encrypting data",
	CodeDecrypt:            "error decrypting data",
}

// Error is a certificate error with the reference's SSL error code.
// Message starts with the reference's wording of the code and says what
// failed and why, e.g. `cannot open certificate store: PFX file "x.pfx":
// wrong password`. Err is the underlying cause, if any.
type Error struct {
	// Code is the reference's error code (270-284).
	Code int
	// Message is the full, human-readable message.
	Message string
	// Err is the cause, or nil.
	Err error
}

// Error returns Message.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// newError builds an Error whose message is the code's wording, then the
// formatted detail, then the cause when it is not nil.
func newError(code int, cause error, format string, args ...any) *Error {
	msg := codeText[code]
	if msg == "" {
		msg = fmt.Sprintf("error %d", code)
	}
	if format != "" {
		msg += ": " + fmt.Sprintf(format, args...)
	}
	if cause != nil {
		msg += ": " + cause.Error()
	}
	return &Error{Code: code, Message: msg, Err: cause}
}
