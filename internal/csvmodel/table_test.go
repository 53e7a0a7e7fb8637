package csvmodel

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

var tableCols = []Column{
	{Name: "skillId", Aliases: []string{"skill"}, Required: true},
	{Name: "productId", Aliases: []string{"product", "inSkillProductId"}, Required: true},
	{Name: "action"},
}

func TestReadTable(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // rows as line:values, or the error
	}{
		{"aliases, other columns ignored", "Skill,notes,In Skill Product ID\ns1,x,p1\n", "2:[s1 p1 ]"},
		{"BOM, semicolons, CRLF, quotes, trimmed", "\xef\xbb\xbfskill_id;PRODUCT-ID;Action\r\n\" s1 \";p1;disassociate\r\n", "2:[s1 p1 disassociate]"},
		{"tab", "skillId\tproductId\ns1\tp1\n", "2:[s1 p1 ]"},
		{"blank lines and rows of empty fields skipped", "skillId,productId\n\ns1,p1\n,,\n , \ns2,p2\n", "3:[s1 p1 ] 6:[s2 p2 ]"},
		{"short row", "skillId,productId,action\ns1\n", "2:[s1  ]"},
		{"quoted newline keeps the line of the row", "skillId,productId\n\"s\n1\",p1\ns2,p2\n", "2:[s\n1 p1 ] 4:[s2 p2 ]"},
		{"required column missing", "skillId,action\ns1,x\n", "in.csv:1: required column productId (or product, inSkillProductId) is missing; the header has skillId, action"},
		{"two columns for one field", "skill,skillId,productId\n", `in.csv:1: columns "skill" and "skillId" both mean skillId`},
		{"broken quote", "skillId,productId\ns1,p1\n\"s2,p2\n", "in.csv:3: a quoted field is never closed (unbalanced \")"},
		{"not UTF-8 in a column read", "skillId,productId\ns1,p\xff\n", "in.csv:2: not UTF-8 text in column \"productId\": byte 0xFF at character 2; export the file as UTF-8"},
		{"not UTF-8 elsewhere is fine", "skillId,productId,notes\ns1,p1,caf\xe9\n", "2:[s1 p1 ]"},
		{"UTF-16", "\xff\xfes\x00", "in.csv: file is UTF-16 text; export it as UTF-8 (CSV UTF-8 in spreadsheet programs)"},
		{"empty", "", "in.csv: file is empty: a header row is required"},
	}
	for _, tt := range tests {
		var got []string
		err := ReadTable("in.csv", strings.NewReader(tt.in), tableCols, 0, func(r TableRow) {
			if r.File != "in.csv" {
				t.Errorf("%s: file %q", tt.name, r.File)
			}
			got = append(got, fmt.Sprintf("%d:%v", r.Line, r.Values))
		})
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Errorf("%s: %v is not a *FileError", tt.name, err)
			}
			got = []string{err.Error()}
		}
		if s := strings.Join(got, " "); s != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, s, tt.want)
		}
	}
	if err := ReadTableFile("/nonexistent/p.csv", tableCols, 0, func(TableRow) {}); err == nil || !strings.Contains(err.Error(), "can't open") {
		t.Errorf("missing file: %v", err)
	}
}
