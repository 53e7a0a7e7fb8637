package csvmodel

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/unicode/runenames"
)

// Check returns why a row can't be sent, or "".
func Check(r Row) string {
	if msg := checkRow(r.Action, r.ExternalUserID, r.AmazonID, r.AmazonIDType, CheckProvider(r.ServiceProviderID), r.UnitID != "", false, false); msg != "" {
		return msg
	}
	return checkUnit(r.UnitID, r.Name)
}

// checkRow is Check with the provider's verdict already known (the reader
// checks each distinct provider once, not on every row) and, for the
// reader's fast path, whether the ids are known to be printable ASCII. A
// row that names a unit needs no amazonId: the unit's profile is resolved
// from the API.
func checkRow(action, ext, amz, typ, provider string, unit, extPlain, amzPlain bool) string {
	switch action {
	case ActionUpsert, ActionDelete:
	default:
		return fmt.Sprintf("action %q is not upsert or delete", action)
	}
	if msg := checkKnownID("externalUserId", ext, extPlain); msg != "" {
		return msg
	}
	if action == ActionUpsert {
		switch {
		case amz == "" && !unit:
			return "amazonId is required for action upsert"
		case amz != "":
			if msg := checkAmazonID(amz, amzPlain); msg != "" {
				return msg
			}
		}
		if msg := CheckAmazonIDType(typ); msg != "" {
			return msg
		}
	}
	return provider
}

// CheckExternalUserID returns why an externalUserId (of a row, or one the
// API lists) can't be used, or "".
func CheckExternalUserID(v string) string { return CheckID("externalUserId", v) }

// CheckAmazonID returns why an amazonId (of a row, or one the API lists)
// can't be used, or "".
func CheckAmazonID(v string) string { return checkAmazonID(v, false) }

func checkAmazonID(v string, plain bool) string {
	if msg := checkKnownID("amazonId", v, plain); msg != "" {
		return msg
	}
	if !strings.HasPrefix(v, "amzn1.") {
		return fmt.Sprintf("amazonId %q does not start with amzn1.", v)
	}
	return ""
}

// CheckAmazonIDType returns why an amazonIdType, once defaulted (an empty
// one means DefaultAmazonIDType), can't be used, or "".
func CheckAmazonIDType(t string) string {
	if t == DefaultAmazonIDType {
		return ""
	}
	if msg := CheckID("amazonIdType", t); msg != "" {
		return msg
	}
	// The API takes this one type; a case variant would otherwise read as a
	// change and be sent as a needless update.
	return fmt.Sprintf("amazonIdType %q is not %s, the only type the API takes (values are case-sensitive)", t, DefaultAmazonIDType)
}

// CheckUnitID returns why an Alexa unit id can't be used, or "". A unit id
// is the unit prefix and then letters and digits only: it goes into a
// query string, and the form is checked offline (validate too).
func CheckUnitID(id string) string {
	if msg := CheckID("unitId", id); msg != "" {
		return msg
	}
	rest, ok := strings.CutPrefix(id, UnitPrefix)
	if !ok || rest == "" {
		return fmt.Sprintf("unitId %q is not an Alexa unit id starting %s", id, UnitPrefix)
	}
	if i := strings.IndexFunc(rest, func(r rune) bool { return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') }); i >= 0 {
		bad, _ := utf8.DecodeRuneInString(rest[i:])
		return fmt.Sprintf("unitId %q contains %q; a unit id has only letters and digits after %s", id, string(bad), UnitPrefix)
	}
	return ""
}

// checkUnit returns why a row's unitId or name can't be used, or "".
func checkUnit(id, name string) string {
	if id != "" {
		if msg := CheckUnitID(id); msg != "" {
			return msg
		}
	}
	if name != "" && (utf8.RuneCountInString(name) > 255 || strings.IndexFunc(name, unicode.IsControl) >= 0) {
		return "name is longer than 255 characters or contains a control character"
	}
	return ""
}

// NoProvider is why a row with no serviceProviderId is invalid when no
// default provider is set.
const NoProvider = "serviceProviderId is empty and no default service provider is set"

// CheckProvider returns why a serviceProviderId can't be used, or "".
func CheckProvider(id string) string {
	if id == "" {
		return NoProvider
	}
	if msg := CheckID("serviceProviderId", id); msg != "" {
		return msg
	}
	if !strings.HasPrefix(id, ProviderPrefix) || len(id) == len(ProviderPrefix) {
		return fmt.Sprintf("serviceProviderId %q is not an ACI starting %s", id, ProviderPrefix)
	}
	if i := strings.IndexAny(id, "/?#% "); i >= 0 {
		return fmt.Sprintf("serviceProviderId %q contains %q, which can't go into a URL path", id, id[i])
	}
	return ""
}

// checkKnownID is CheckID of an id already known to be printable ASCII,
// or not known to be.
func checkKnownID(field, v string, plain bool) string {
	if plain && v != "" && len(v) <= 255 {
		return ""
	}
	return CheckID(field, v)
}

// CheckID returns why the value of an id column (field names it) can't be
// used, or "": empty, longer than 255 characters, or holding a character
// that would make an id look like another one and not be it. Ids are
// compared exactly, so such characters are refused, never removed: a
// control character, a default-ignorable code point (invisible: a zero
// width space, a variation selector, a Hangul filler), any other format
// character, a space other than the plain one, or text not in Unicode NFC
// (an "á" written as "a" and a combining accent). The message names the
// character.
func CheckID(field, v string) string {
	if v == "" {
		return field + " is empty"
	}
	if len(v) <= 255 && plainASCII(v) {
		return ""
	}
	if n := utf8.RuneCountInString(v); n > 255 {
		return fmt.Sprintf("%s is %d characters long; at most 255", field, n)
	}
	at := 0
	for _, r := range v {
		at++
		var what string
		switch {
		case unicode.IsControl(r):
			what = "a control character"
		case defaultIgnorable(r):
			what = "an invisible character"
		case unicode.Is(unicode.Cf, r):
			what = "a format character"
		case r != ' ' && unicode.In(r, unicode.Zs, unicode.Zl, unicode.Zp):
			what = "a space other than a plain space"
		default:
			continue
		}
		return fmt.Sprintf("%s contains %s, %s (character %d); retype the id", field, what, CodePoint(r), at)
	}
	if !norm.NFC.IsNormalString(v) {
		return notNFC(field, v)
	}
	return ""
}

// notNFC names where v, which is not in NFC, first differs from it: the
// character that NFC would join to the one before it (or write otherwise).
func notNFC(field, v string) string {
	for i, at := 0, 1; i < len(v); {
		n := norm.NFC.NextBoundaryInString(v[i:], true)
		if n <= 0 {
			n = len(v) - i
		}
		seg := v[i : i+n]
		if nfc := norm.NFC.String(seg); nfc != seg {
			r, size := utf8.DecodeRuneInString(seg)
			pos := at
			if size < len(seg) { // name the mark that joins the first character
				r, _ = utf8.DecodeRuneInString(seg[size:])
				pos++
			}
			return fmt.Sprintf("%s is not in Unicode NFC form: %s (character %d) is written %s in NFC; retype the id",
				field, CodePoint(r), pos, codes(seg)+" as "+codes(nfc))
		}
		at += utf8.RuneCountInString(seg)
		i += n
	}
	return field + " is not in Unicode NFC form; retype the id"
}

func codes(s string) string {
	var b strings.Builder
	for i, r := range []rune(s) {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "U+%04X", r)
	}
	return b.String()
}

// CodePoint names a character for a person: "U+00A0 NO-BREAK SPACE", or
// "U+FFF0" for one with no name.
func CodePoint(r rune) string {
	if name := runenames.Name(r); name != "" && !strings.HasPrefix(name, "<") {
		return fmt.Sprintf("U+%04X %s", r, name)
	}
	return fmt.Sprintf("U+%04X", r)
}

// defaultIgnorable reports whether r has the Unicode property
// Default_Ignorable_Code_Point, derived from the standard tables as
// DerivedCoreProperties.txt says: Other_Default_Ignorable_Code_Point, Cf
// and Variation_Selector, less White_Space, the interlinear annotation
// characters FFF9..FFFB, the Egyptian hieroglyph format characters
// 13430..1343F and Prepended_Concatenation_Mark (format characters that
// are meant to be seen).
func defaultIgnorable(r rune) bool {
	if !unicode.In(r, unicode.Other_Default_Ignorable_Code_Point, unicode.Cf, unicode.Variation_Selector) {
		return false
	}
	return !unicode.Is(unicode.White_Space, r) && !(0xFFF9 <= r && r <= 0xFFFB) && !(0x13430 <= r && r <= 0x1343F) &&
		!unicode.Is(unicode.Prepended_Concatenation_Mark, r)
}

// trimBlank removes plain spaces and tabs at both ends of a value, and
// nothing else: any other space is part of the value, and refused in an id.
func trimBlank(v string) string {
	i, j := 0, len(v)
	for i < j && (v[i] == ' ' || v[i] == '\t') {
		i++
	}
	for j > i && (v[j-1] == ' ' || v[j-1] == '\t') {
		j--
	}
	return v[i:j]
}

// plainASCII reports whether v is printable ASCII (0x20 to 0x7E), eight
// bytes at a time: the fast path of nearly every id.
func plainASCII(v string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(v); i += 8 {
		b := v[i : i+8]
		w := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 | uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
		// a byte >= 0x80, < 0x20, or 0x7F (0x7F+1 sets the high bit)
		if (w|(w-ones*0x20)|(w+ones))&highs != 0 {
			return false
		}
	}
	for ; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}
