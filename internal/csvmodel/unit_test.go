package csvmodel

import (
	"fmt"
	"strings"
	"testing"
)

// The room's Alexa unit (unitId, aliases unit and alexaUnitId) may stand
// in for amazonId; its form is checked offline; name is the display name
// of a profile created for it.
func TestUnitColumn(t *testing.T) {
	const u = "amzn1.alexa.unit.did.AFOVR3XKYQJ4REIHURGMCRN7CQ"
	tests := []struct {
		name, in string
		want     Row    // of a valid row
		reason   string // of an invalid row
	}{
		{"unitId stands in for amazonId", "externalUserId,unitId,name\n7201," + u + ",Room 7201\n",
			Row{ExternalUserID: "7201", UnitID: u, Name: "Room 7201", AmazonIDType: DefaultAmazonIDType}, ""},
		{"alias unit", "room,Unit\n7201," + u + "\n", Row{ExternalUserID: "7201", UnitID: u, AmazonIDType: DefaultAmazonIDType}, ""},
		{"alias Alexa Unit ID, with amazonId", "room;Alexa Unit ID;amazonId\n7201;" + u + ";amzn1.p\n",
			Row{ExternalUserID: "7201", UnitID: u, AmazonID: "amzn1.p", AmazonIDType: DefaultAmazonIDType}, ""},
		{"a row may leave the unit to the other column", "room,unitId,amazonId\n7201,,amzn1.p\n",
			Row{ExternalUserID: "7201", AmazonID: "amzn1.p", AmazonIDType: DefaultAmazonIDType}, ""},
		{"neither", "room,unitId,amazonId\n7201,,\n", Row{}, "amazonId is required for action upsert"},
		{"an org id is not a unit", "room,unitId\n7201,amzn1.alexa.org.did.X\n", Row{},
			`unitId "amzn1.alexa.org.did.X" is not an Alexa unit id starting amzn1.alexa.unit.did.`},
		{"prefix alone", "room,unitId\n7201,amzn1.alexa.unit.did.\n", Row{}, `is not an Alexa unit id`},
		{"a character a unit id never has", "room,unitId\n7201," + u + "&x=1\n", Row{},
			`unitId "` + u + `&x=1" contains "&"; a unit id has only letters and digits after amzn1.alexa.unit.did.`},
		{"non-ASCII", "room,unitId\n7201," + u + "é\n", Row{}, `contains "é"`},
		{"too long", "room,unitId\n7201," + u + strings.Repeat("A", 255) + "\n", Row{}, "unitId is 302 characters long; at most 255"},
		{"a bad unit on a delete row too", "room,unitId,action\n7201,nope,delete\n", Row{}, `unitId "nope" is not an Alexa unit id`},
		{"a name with a control character", "room,unitId,name\n7201," + u + ",\"a\x01b\"\n", Row{}, "name is longer than 255 characters or contains a control character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := read(t, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			c := rows(t, r)[0]
			if tt.reason != "" {
				if c.Status != Invalid || !strings.Contains(c.Reason, tt.reason) {
					t.Errorf("got %v %q, want invalid: %s", c.Status, c.Reason, tt.reason)
				}
				return
			}
			tt.want.File, tt.want.Line, tt.want.ServiceProviderID, tt.want.Action = "f1.csv", 2, sp, ActionUpsert
			if c.Status != Valid || c.Row != tt.want {
				t.Errorf("got %v %q %+v\nwant %+v", c.Status, c.Reason, c.Row, tt.want)
			}
		})
	}
}

// A unit and its name are part of what a row asks: the same room twice
// with another unit or name is a conflict, with the same a duplicate.
func TestUnitRowsAsDuplicates(t *testing.T) {
	const u, v = "amzn1.alexa.unit.did.U", "amzn1.alexa.unit.did.V"
	r, err := read(t, "room,unitId,name\n7201,"+u+",A\n7201,"+u+",A\n7202,"+u+",A\n7202,"+v+",A\n7203,"+u+",A\n7203,"+u+",B\n")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(verdicts(t, r)), fmt.Sprint([]Status{Valid, Duplicate, Invalid, Invalid, Invalid, Invalid}); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestHeaderNeedsAmazonIDOrUnit(t *testing.T) {
	if _, err := read(t, "room,unit\n7201,amzn1.alexa.unit.did.U\n"); err != nil {
		t.Errorf("a unit column without amazonId: %v", err)
	}
	if _, err := read(t, "room,unit,alexaUnitId\n1,2,3\n"); err == nil || !strings.Contains(err.Error(), `columns "unit" and "alexaUnitId" both mean unitId`) {
		t.Errorf("two unit columns: got %v", err)
	}
	if _, err := read(t, "room,guest\n7201,Jane\n"); err == nil || !strings.Contains(err.Error(), "required column amazonId") {
		t.Errorf("neither amazonId nor unitId: got %v", err)
	}
	// Check, as a saved plan's writes are checked, knows the unit too.
	if msg := Check(Row{ExternalUserID: "1", ServiceProviderID: sp, Action: ActionUpsert, AmazonIDType: DefaultAmazonIDType, UnitID: "amzn1.alexa.unit.did.U"}); msg != "" {
		t.Errorf("Check of a unit row: %q", msg)
	}
	if msg := Check(Row{ExternalUserID: "1", ServiceProviderID: sp, Action: ActionUpsert, AmazonIDType: DefaultAmazonIDType, UnitID: "u"}); !strings.Contains(msg, "is not an Alexa unit id") {
		t.Errorf("Check of a bad unit: %q", msg)
	}
}
