package secret

import "testing"

func TestPrintableEscapesWhatATerminalWouldRun(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text, ünïcode ok", "plain text, ünïcode ok"},
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"line\nfake log line", `line\nfake log line`},
		{"csi \u009b2J", `csi \u009b2J`},
		{"rtl \u202eevil", `rtl \u202eevil`},
		{"bad \xff byte", `bad \xff byte`},
		{"tab\there", `tab\there`},
		{"\x7f", `\x7f`},
	} {
		if got := Printable(tc.in); got != tc.want {
			t.Errorf("Printable(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}
