package wsserver

import (
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

// utf8CodePage is code page 65001, UTF-8: the default, with no conversion.
const utf8CodePage = 65001

// codePages maps the reference's code page identifiers to encodings.
var codePages = map[int]encoding.Encoding{
	37:    charmap.CodePage037,
	437:   charmap.CodePage437,
	850:   charmap.CodePage850,
	852:   charmap.CodePage852,
	855:   charmap.CodePage855,
	858:   charmap.CodePage858,
	860:   charmap.CodePage860,
	862:   charmap.CodePage862,
	863:   charmap.CodePage863,
	865:   charmap.CodePage865,
	866:   charmap.CodePage866,
	874:   charmap.Windows874,
	932:   japanese.ShiftJIS,
	936:   simplifiedchinese.GBK,
	949:   korean.EUCKR,
	950:   traditionalchinese.Big5,
	1047:  charmap.CodePage1047,
	1140:  charmap.CodePage1140,
	1200:  unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM),
	1201:  unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM),
	1250:  charmap.Windows1250,
	1251:  charmap.Windows1251,
	1252:  charmap.Windows1252,
	1253:  charmap.Windows1253,
	1254:  charmap.Windows1254,
	1255:  charmap.Windows1255,
	1256:  charmap.Windows1256,
	1257:  charmap.Windows1257,
	1258:  charmap.Windows1258,
	10000: charmap.Macintosh,
	10007: charmap.MacintoshCyrillic,
	12000: utf32.UTF32(utf32.LittleEndian, utf32.IgnoreBOM),
	12001: utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM),
	20866: charmap.KOI8R,
	20932: japanese.EUCJP,
	21866: charmap.KOI8U,
	28591: charmap.ISO8859_1,
	28592: charmap.ISO8859_2,
	28593: charmap.ISO8859_3,
	28594: charmap.ISO8859_4,
	28595: charmap.ISO8859_5,
	28596: charmap.ISO8859_6,
	28597: charmap.ISO8859_7,
	28598: charmap.ISO8859_8,
	28599: charmap.ISO8859_9,
	28605: charmap.ISO8859_15,
	38598: charmap.ISO8859_8I,
	50220: japanese.ISO2022JP,
	51932: japanese.EUCJP,
	51949: korean.EUCKR,
	54936: simplifiedchinese.GB18030,
	20936: simplifiedchinese.GBK, // GBK is a superset of GB2312
	52936: simplifiedchinese.HZGB2312,
}

// codePageEncoding returns the encoding of a code page; nil for UTF-8.
func codePageEncoding(cp int) (encoding.Encoding, error) {
	if cp == utf8CodePage {
		return nil, nil
	}
	if e, ok := codePages[cp]; ok {
		return e, nil
	}
	return nil, newError(ErrNotSupported, "CodePage %d is not available (supported: 65001 UTF-8 and the single- and multi-byte pages listed in the README)", cp)
}

// fromCodePage converts text in the connection's code page to UTF-8.
func fromCodePage(cp int, b []byte) ([]byte, error) {
	e, err := codePageEncoding(cp)
	if err != nil || e == nil {
		return b, err
	}
	out, err := e.NewDecoder().Bytes(b)
	if err != nil {
		return nil, newError(ErrInvalidValue, "text is not valid in CodePage %d: %v", cp, err)
	}
	return out, nil
}

// toCodePage converts UTF-8 text to the connection's code page; characters
// the page lacks become its replacement character.
func toCodePage(cp int, b []byte) []byte {
	e, _ := codePageEncoding(cp)
	if e == nil {
		return b
	}
	out, err := encoding.ReplaceUnsupported(e.NewEncoder()).Bytes(b)
	if err != nil {
		return b
	}
	return out
}
