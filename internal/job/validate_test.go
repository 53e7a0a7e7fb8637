package job

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/internal/csvmodel"
)

// validate checks files offline and prints every problem as FILE:LINE:
// reason, a row's own as it is read and duplicates once all are.
func TestValidate(t *testing.T) {
	tests := []struct {
		name      string
		files     map[string]string // name -> content, read in name order
		in        Input
		stdin     string
		verdict   Verdict
		checked   Checked
		printed   []string // Stdout's lines, with DIR for the files' directory
		err, hint string
	}{{
		name:    "a clean file",
		files:   map[string]string{"a.csv": "externalUserId,amazonId\n7201,amzn1.a\n7202,amzn1.b\n,\n"},
		verdict: Clean,
		checked: Checked{Valid: 2, Blank: 1},
	}, {
		name: "every problem, with its file and line",
		files: map[string]string{"a.csv": "externalUserId,amazonId\n7201,amzn1.a\n7202,\n7201,amzn1.a\n",
			"b.csv": "room;profileId\n7203;amzn1.c\n7203;amzn1.d\n"},
		verdict: Refused,
		checked: Checked{Valid: 1, Duplicate: 1, Invalid: 3},
		printed: []string{
			"DIR/a.csv:3: amazonId is required for action upsert",
			"DIR/a.csv:4: duplicate, same as DIR/a.csv:2 (not sent twice)",
			"DIR/b.csv:2: externalUserId 7203 is given conflicting values at DIR/b.csv:2 and DIR/b.csv:3",
			"DIR/b.csv:3: externalUserId 7203 is given conflicting values at DIR/b.csv:2 and DIR/b.csv:3",
		},
	}, {
		name:    "one bad row",
		files:   map[string]string{"a.csv": "externalUserId,amazonId\n7201,amzn1.a\n7202,\n"},
		verdict: Refused,
		checked: Checked{Valid: 1, Invalid: 1},
		printed: []string{"DIR/a.csv:3: amazonId is required for action upsert"},
	}, {
		name:    "standard input",
		in:      Input{Files: []string{"-"}},
		stdin:   "externalUserId,amazonId\n7201,amzn1.a\n7201,amzn1.a\n",
		verdict: Clean,
		checked: Checked{Valid: 1, Duplicate: 1},
		printed: []string{"stdin:3: duplicate, same as stdin:2 (not sent twice)"},
	}, {
		name:    "two columns for one field",
		files:   map[string]string{"a.csv": "Room,Extension,amazonId\n1,7201,amzn1.a\n"},
		verdict: Usage,
		err:     `columns "Room" and "Extension" both mean externalUserId`,
		hint:    "--column externalUserId=Extension",
	}, {
		name:    "a column choice that is not FIELD=HEADER",
		files:   map[string]string{"a.csv": "Room,amazonId\n7201,amzn1.a\n"},
		in:      Input{Columns: []string{"Room"}},
		verdict: Usage,
		err:     "bad column choice",
		hint:    "--column takes FIELD=HEADER",
	}, {
		name:    "a default provider that is not one",
		files:   map[string]string{"a.csv": "externalUserId,amazonId\n7201,amzn1.a\n"},
		in:      Input{DefaultProvider: "demo"},
		verdict: Usage,
		err:     `default service provider: serviceProviderId "demo" is not an ACI`,
	}, {
		name:    "a file that is not there",
		in:      Input{Files: []string{"DIR/none.csv"}},
		verdict: Usage,
		err:     "none.csv",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			in := tt.in
			for i, f := range in.Files {
				in.Files[i] = strings.ReplaceAll(f, "DIR", dir)
			}
			for _, name := range []string{"a.csv", "b.csv"} {
				if content, ok := tt.files[name]; ok {
					in.Files = append(in.Files, writeFile(t, dir, name, content))
				}
			}
			if in.DefaultProvider == "" {
				in.DefaultProvider = demo
			}
			var st streams
			o := st.io()
			o.Stdin = strings.NewReader(tt.stdin)
			res, err := Validate(context.Background(), in, "", o)
			if res.Verdict != tt.verdict || tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("got %d, %v; want verdict %d and an error saying %q", res.Verdict, err, tt.verdict, tt.err)
			}
			if tt.err != "" {
				if !strings.Contains(res.Summary.Hint, tt.hint) || res.Summary.ExitCode != exitCodes[Usage] || res.Summary.Command != "validate" {
					t.Errorf("summary: %+v, want hint %q", res.Summary, tt.hint)
				}
				if errors.As(err, new(*csvmodel.FileError)) && res.Checked != nil {
					t.Errorf("a rejected file with counts %+v", res.Checked)
				}
				return
			}
			if res.Checked == nil || *res.Checked != tt.checked {
				t.Errorf("checked: got %+v, want %+v", res.Checked, tt.checked)
			}
			want := strings.ReplaceAll(strings.Join(tt.printed, "\n"), "DIR", dir)
			if got := strings.TrimSpace(st.stdout.String()); got != want {
				t.Errorf("printed:\n%s\nwant:\n%s", got, want)
			}
			ev := st.events(t, "validated")
			if len(ev) != 1 || ev[0]["invalid"] != float64(tt.checked.Invalid) || ev[0]["blank"] != float64(tt.checked.Blank) {
				t.Errorf("validated events: %v", ev)
			}
		})
	}
}
