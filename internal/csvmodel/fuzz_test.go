package csvmodel

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzRead feeds the reader hostile bytes: it must never panic, a file it
// refuses must be refused with a *FileError, and every row it accepts must
// pass the row checks and carry a physical line after the header.
func FuzzRead(f *testing.F) {
	for _, seed := range []string{
		"externalUserId,amazonId\n7201,amzn1.a\n",
		"\ufeffExtension;Profile ID;action\r\n7201;amzn1.a;\r\n7202;;delete\r\n",
		"room\tprofileId\tprovider\n\"72\n01\"\tamzn1.b\tamzn1.comms.csp.id.x/../y\n",
		"externalUserId,amazonId\n\"7201,amzn1.a\n",
		"externalUserId,amazonId\n7201,amzn1.a\n7201,amzn1.b\n7201,amzn1.a\n",
		"\xff\xfee\x00",
		"PK\x03\x04\x00",
		"externalUserId,amazonId\n=cmd|' /C calc'!A0,amzn1.a\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(Options{DefaultProvider: "amzn1.comms.csp.id.fuzz"})
		err := r.Read("fuzz.csv", bytes.NewReader(data))
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) || !strings.HasPrefix(err.Error(), "fuzz.csv") {
				t.Fatalf("refusal is not a *FileError naming the file: %v", err)
			}
			return
		}
		for _, c := range r.Rows() {
			if c.Line < 2 {
				t.Fatalf("row at line %d, before or on the header", c.Line)
			}
			if c.Status != Invalid && Check(c.Row) != "" {
				t.Fatalf("%s accepted but fails its check: %s", c.Where(), Check(c.Row))
			}
			if c.Status == Invalid && c.Reason == "" {
				t.Fatalf("%s invalid without a reason", c.Where())
			}
		}
	})
}
