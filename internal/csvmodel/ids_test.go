package csvmodel

import (
	"strings"
	"testing"
	"unicode"
)

// defaultIgnorable15 is Default_Ignorable_Code_Point as Unicode 15.0's
// DerivedCoreProperties.txt lists it (4,174 code points), to check the
// derivation from Go's tables against.
var defaultIgnorable15 = [][2]rune{
	{0x00AD, 0x00AD}, {0x034F, 0x034F}, {0x061C, 0x061C}, {0x115F, 0x1160}, {0x17B4, 0x17B5},
	{0x180B, 0x180F}, {0x200B, 0x200F}, {0x202A, 0x202E}, {0x2060, 0x206F}, {0x3164, 0x3164},
	{0xFE00, 0xFE0F}, {0xFEFF, 0xFEFF}, {0xFFA0, 0xFFA0}, {0xFFF0, 0xFFF8}, {0x1BCA0, 0x1BCA3},
	{0x1D173, 0x1D17A}, {0xE0000, 0xE0FFF},
}

// The property is derived from the standard tables as Unicode derives it:
// the code points and the usual suspects are in, visible format
// characters, spaces and letters are not; under Unicode 15.0, Go's, the
// whole range agrees with the published list.
func TestDefaultIgnorable(t *testing.T) {
	in := []rune{0x034F, 0xFE0F, 0x115F, 0x3164, 0x17B4, 0x00AD, 0x200B, 0x200D, 0x2060, 0xFEFF, 0x180E, 0xFFA0, 0xE0001, 0xE0100}
	out := []rune{'a', '7', ' ', 0x00A0, 0x3000, 0x00E1, 0x0301, 0x0600, 0xFFF9, 0x13430, 0x110BD, 0x2800, 0xFFFC}
	for _, r := range in {
		if !defaultIgnorable(r) {
			t.Errorf("U+%04X: not default-ignorable, want it to be", r)
		}
	}
	for _, r := range out {
		if defaultIgnorable(r) {
			t.Errorf("U+%04X: default-ignorable, want it not to be", r)
		}
	}
	if unicode.Version != "15.0.0" {
		t.Skipf("Go's tables are Unicode %s; the list is 15.0's", unicode.Version)
	}
	want := map[rune]bool{}
	for _, rg := range defaultIgnorable15 {
		for r := rg[0]; r <= rg[1]; r++ {
			want[r] = true
		}
	}
	if len(want) != 4174 {
		t.Fatalf("the list has %d code points, want 4174", len(want))
	}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if got := defaultIgnorable(r); got != want[r] {
			t.Errorf("U+%04X: got %v, want %v", r, got, want[r])
		}
	}
}

// Ids that would look like another id and not be it are refused in every
// id column, naming the character and the column: default-ignorable code
// points, format characters, spaces other than the plain one (at the ends
// too: only plain spaces and tabs are trimmed), text not in NFC. Other
// non-ASCII ids are ids.
func TestInvisibleIDs(t *testing.T) {
	tests := []struct{ id, want string }{
		{"7201\u034f", "externalUserId contains an invisible character, U+034F COMBINING GRAPHEME JOINER (character 5); retype the id"},
		{"7201\ufe0f", "externalUserId contains an invisible character, U+FE0F VARIATION SELECTOR-16 (character 5); retype the id"},
		{"\u115f7201", "externalUserId contains an invisible character, U+115F HANGUL CHOSEONG FILLER (character 1); retype the id"},
		{"72\u316401", "externalUserId contains an invisible character, U+3164 HANGUL FILLER (character 3); retype the id"},
		{"72\u17b401", "externalUserId contains an invisible character, U+17B4 KHMER VOWEL INHERENT AQ (character 3); retype the id"},
		{"7201\u00ad", "externalUserId contains an invisible character, U+00AD SOFT HYPHEN (character 5); retype the id"},
		{"\u06007201", "externalUserId contains a format character, U+0600 ARABIC NUMBER SIGN (character 1); retype the id"},
		{"7201\u00a0", "externalUserId contains a space other than a plain space, U+00A0 NO-BREAK SPACE (character 5); retype the id"},
		{"\u30007201", "externalUserId contains a space other than a plain space, U+3000 IDEOGRAPHIC SPACE (character 1); retype the id"},
		{"7201\u2028", "externalUserId contains a space other than a plain space, U+2028 LINE SEPARATOR (character 5); retype the id"},
		{"7201\r", "externalUserId contains a control character, U+000D (character 5); retype the id"},
		{"Sala-A\u0301", "externalUserId is not in Unicode NFC form: U+0301 COMBINING ACUTE ACCENT (character 7) is written U+0041 U+0301 as U+00C1 in NFC; retype the id"},
		{"\u212b12", "externalUserId is not in Unicode NFC form: U+212B ANGSTROM SIGN (character 1) is written U+212B as U+00C5 in NFC; retype the id"},
		{"\u1100\u1161", "externalUserId is not in Unicode NFC form: U+1161 HANGUL JUNGSEONG A (character 2) is written U+1100 U+1161 as U+AC00 in NFC; retype the id"},
		{"Sala-\u00c1", ""},
		{"Zimmer 12", ""},
		{"\uff17\uff12\uff10\uff11", ""},
		{"房间7201", ""},
		{"\u0627\u0644\u063a\u0631\u0641\u0629", ""},
		{"\u0301", ""}, // a mark with nothing before it is NFC; the API may take it
	}
	for _, tt := range tests {
		if got := CheckExternalUserID(tt.id); got != tt.want {
			t.Errorf("CheckExternalUserID(%+q):\n got %s\nwant %s", tt.id, got, tt.want)
		}
		// The same id in a file, with plain spaces and tabs around it.
		r, err := read(t, "externalUserId,amazonId\n \t"+tt.id+"\t ,amzn1.p\n")
		if err != nil {
			t.Fatal(err)
		}
		if c := rows(t, r)[0]; c.Reason != tt.want || c.ExternalUserID != tt.id {
			t.Errorf("row %+q: got %+q %q, want %q", tt.id, c.ExternalUserID, c.Reason, tt.want)
		}
	}
}

// `á` as one code point and as `a` and U+0301 were two rooms: the second is
// refused, not a second room.
func TestNFCRoomsAreOneRoom(t *testing.T) {
	r, err := read(t, "externalUserId,amazonId\nSala-\u00e1,amzn1.a\nSala-a\u0301,amzn1.b\n")
	if err != nil {
		t.Fatal(err)
	}
	got := rows(t, r)
	if got[0].Status != Valid || got[1].Status != Invalid || !strings.Contains(got[1].Reason, "U+0301 COMBINING ACUTE ACCENT") {
		t.Errorf("got %v %q, %v %q", got[0].Status, got[0].Reason, got[1].Status, got[1].Reason)
	}
}

// Every id column is checked alike, and a space other than the plain one
// at either end is refused, not trimmed.
func TestEveryIDColumn(t *testing.T) {
	const u = "amzn1.alexa.unit.did.U1"
	tests := []struct{ line, want string }{
		{"7201\u00a0,amzn1.p,,,", "externalUserId contains a space other than a plain space, U+00A0 NO-BREAK SPACE (character 5); retype the id"},
		{"7201,amzn1.p\u00a0,,,", "amazonId contains a space other than a plain space, U+00A0 NO-BREAK SPACE (character 8); retype the id"},
		{"7201,\u2060amzn1.p,,,", "amazonId contains an invisible character, U+2060 WORD JOINER (character 1); retype the id"},
		{"7201,amzn1.p,\u3000" + sp + ",,", "serviceProviderId contains a space other than a plain space, U+3000 IDEOGRAPHIC SPACE (character 1); retype the id"},
		{"7201,amzn1.p," + sp + "\ufe0f,,", "serviceProviderId contains an invisible character, U+FE0F VARIATION SELECTOR-16 (character 24); retype the id"},
		{"7201,,," + u + "\u00a0,", "unitId contains a space other than a plain space, U+00A0 NO-BREAK SPACE (character 24); retype the id"},
		{"7201,amzn1.p,,,communication-profile\u200b", "amazonIdType contains an invisible character, U+200B ZERO WIDTH SPACE (character 22); retype the id"},
		{" 7201\t,\tamzn1.p ,  " + sp + "\t,\t" + u + " ,", ""},
	}
	for _, tt := range tests {
		r, err := read(t, "externalUserId,amazonId,serviceProviderId,unitId,amazonIdType\n"+tt.line+"\n")
		if err != nil {
			t.Fatal(err)
		}
		if c := rows(t, r)[0]; c.Reason != tt.want {
			t.Errorf("line %+q:\n got %s\nwant %s", tt.line, c.Reason, tt.want)
		}
	}
}

// The checks of what the API lists are the row checks: each exported check
// gives the reason a row with the value gets.
func TestExportedChecksAreTheRowChecks(t *testing.T) {
	tests := []struct {
		check  func(string) string
		column string // of the row that carries the value
		value  string
		want   string
	}{
		{CheckExternalUserID, "externalUserId", "7201", ""},
		{CheckExternalUserID, "externalUserId", "", "externalUserId is empty"},
		{CheckExternalUserID, "externalUserId", "72\u200b01", "externalUserId contains an invisible character, U+200B ZERO WIDTH SPACE (character 3); retype the id"},
		{CheckExternalUserID, "externalUserId", strings.Repeat("é", 256), "externalUserId is 256 characters long; at most 255"},
		{CheckAmazonID, "amazonId", "amzn1.p", ""},
		{CheckAmazonID, "amazonId", "profile-1", `amazonId "profile-1" does not start with amzn1.`},
		{CheckAmazonID, "amazonId", "amzn1.p\u00a0x", "amazonId contains a space other than a plain space, U+00A0 NO-BREAK SPACE (character 8); retype the id"},
		{CheckAmazonIDType, "amazonIdType", DefaultAmazonIDType, ""},
		{CheckAmazonIDType, "amazonIdType", "Communication-Profile", `amazonIdType "Communication-Profile" is not communication-profile, the only type the API takes (values are case-sensitive)`},
		{CheckProvider, "serviceProviderId", sp, ""},
		{CheckProvider, "serviceProviderId", sp + "/x", `serviceProviderId "amzn1.comms.csp.id.demo/x" contains '/', which can't go into a URL path`},
		{CheckProvider, "serviceProviderId", sp + "\u034f", "serviceProviderId contains an invisible character, U+034F COMBINING GRAPHEME JOINER (character 24); retype the id"},
		{CheckUnitID, "unitId", "amzn1.alexa.unit.did.U1", ""},
		{CheckUnitID, "unitId", "amzn1.alexa.unit.did.U-1", `unitId "amzn1.alexa.unit.did.U-1" contains "-"; a unit id has only letters and digits after amzn1.alexa.unit.did.`},
		{CheckUnitID, "unitId", "amzn1.alexa.unit.did.\u0055\u0308", "unitId is not in Unicode NFC form: U+0308 COMBINING DIAERESIS (character 23) is written U+0055 U+0308 as U+00DC in NFC; retype the id"},
	}
	for _, tt := range tests {
		if got := tt.check(tt.value); got != tt.want {
			t.Errorf("check of %+q:\n got %s\nwant %s", tt.value, got, tt.want)
		}
		cells := map[string]string{"externalUserId": "7201", "amazonId": "amzn1.p", "amazonIdType": DefaultAmazonIDType, "serviceProviderId": sp, "unitId": ""}
		cells[tt.column] = tt.value
		line := strings.Join([]string{cells["externalUserId"], cells["amazonId"], cells["amazonIdType"], cells["serviceProviderId"], cells["unitId"]}, ",")
		r, err := read(t, "externalUserId,amazonId,amazonIdType,serviceProviderId,unitId\n"+line+"\n")
		if err != nil {
			t.Fatal(err)
		}
		if c := rows(t, r)[0]; c.Reason != tt.want {
			t.Errorf("row with %s %+q:\n got %s\nwant %s", tt.column, tt.value, c.Reason, tt.want)
		}
	}
}
