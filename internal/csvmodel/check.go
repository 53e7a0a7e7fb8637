package csvmodel

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
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
			if msg := checkKnownID("amazonId", amz, amzPlain); msg != "" {
				return msg
			}
			if !strings.HasPrefix(amz, "amzn1.") {
				return fmt.Sprintf("amazonId %q does not start with amzn1.", amz)
			}
		}
		if typ != DefaultAmazonIDType {
			if msg := checkID("amazonIdType", typ); msg != "" {
				return msg
			}
			// The API takes this one type; a case variant would otherwise
			// read as a change and be sent as a needless update.
			return fmt.Sprintf("amazonIdType %q is not %s, the only type the API takes (values are case-sensitive)", typ, DefaultAmazonIDType)
		}
	}
	return provider
}

// checkUnit returns why a row's unitId or name can't be used, or "". A
// unit id is the unit prefix and then letters and digits only: it goes into
// a query string, and the form is checked offline (validate too).
func checkUnit(id, name string) string {
	if id != "" {
		rest, ok := strings.CutPrefix(id, UnitPrefix)
		if !ok || rest == "" {
			return fmt.Sprintf("unitId %q is not an Alexa unit id starting %s", id, UnitPrefix)
		}
		if i := strings.IndexFunc(rest, func(r rune) bool { return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') }); i >= 0 {
			bad, _ := utf8.DecodeRuneInString(rest[i:])
			return fmt.Sprintf("unitId %q contains %q; a unit id has only letters and digits after %s", id, string(bad), UnitPrefix)
		}
		if msg := checkID("unitId", id); msg != "" {
			return msg
		}
	}
	if name != "" && (utf8.RuneCountInString(name) > 255 || strings.IndexFunc(name, unicode.IsControl) >= 0) {
		return "name is longer than 255 characters or contains a control character"
	}
	return ""
}

// CheckProvider returns why a serviceProviderId can't be used, or "".
func CheckProvider(id string) string {
	if id == "" {
		return "serviceProviderId is empty and no default service provider is set"
	}
	if !strings.HasPrefix(id, ProviderPrefix) || len(id) == len(ProviderPrefix) {
		return fmt.Sprintf("serviceProviderId %q is not an ACI starting %s", id, ProviderPrefix)
	}
	if i := strings.IndexFunc(id, func(r rune) bool { return strings.ContainsRune("/?#%", r) || unicode.IsSpace(r) }); i >= 0 {
		return fmt.Sprintf("serviceProviderId %q contains %q, which can't go into a URL path", id, id[i])
	}
	return checkID("serviceProviderId", id)
}

// checkKnownID is checkID of an id already known to be printable ASCII,
// or not known to be.
func checkKnownID(field, v string, plain bool) string {
	if plain && v != "" && len(v) <= 255 {
		return ""
	}
	return checkID(field, v)
}

// checkID checks an id's length and characters. Ids are compared exactly
// (after trimming spaces), so characters a person can't see are refused:
// they would make an id that looks like another but is not.
func checkID(field, v string) string {
	if v == "" {
		return field + " is empty"
	}
	if len(v) <= 255 && plainASCII(v) {
		return ""
	}
	if n := utf8.RuneCountInString(v); n > 255 {
		return fmt.Sprintf("%s is %d characters long; at most 255", field, n)
	}
	if strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return field + " contains a control character"
	}
	for _, r := range v {
		switch {
		case unicode.Is(unicode.Cf, r):
			return fmt.Sprintf("%s contains an invisible format character (U+%04X); retype the id", field, r)
		case r != ' ' && unicode.In(r, unicode.Zs, unicode.Zl, unicode.Zp):
			return fmt.Sprintf("%s contains a space character other than a plain space (U+%04X); retype the id", field, r)
		}
	}
	return ""
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
