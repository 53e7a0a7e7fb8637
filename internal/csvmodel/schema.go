package csvmodel

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Column is one field a resource reads from its input: the name it is known
// by (in messages and column choices) and the other header names that mean it.
type Column struct {
	Name    string
	Aliases []string
	// Required rejects a file whose header lacks the column, unless it has
	// one of the columns named in Unless.
	Required bool
	Unless   []string
}

// Schema is the columns of one resource's input, in the order its records
// hold them: a resource declares its columns once and reads each record
// through the index worked out from a file's header.
type Schema []Column

// The columns of room associations, in RoomColumns' order.
const (
	colExternalUserID = iota
	colAmazonID
	colAmazonIDType
	colServiceProviderID
	colAction
	colUnitID
	colName
	numRoomColumns
)

// RoomColumns is the input of room associations (SPEC section 4).
func RoomColumns() Schema {
	return Schema{
		colExternalUserID:    {Name: "externalUserId", Aliases: []string{"extension", "roomExtension", "room"}, Required: true},
		colAmazonID:          {Name: "amazonId", Aliases: []string{"communicationProfileId", "profileId"}, Required: true, Unless: []string{"action", "unitId"}},
		colAmazonIDType:      {Name: "amazonIdType"},
		colServiceProviderID: {Name: "serviceProviderId", Aliases: []string{"provider"}},
		colAction:            {Name: "action"},
		// The room's Alexa unit: its communication profile stands in for
		// amazonId, and is checked against it when both are given.
		colUnitID: {Name: "unitId", Aliases: []string{"unit", "alexaUnitId"}},
		colName:   {Name: "name"}, // display name of a profile created for the unit
	}
}

// ErrAmbiguousColumn is why a file is refused when two of its columns mean
// the same field; naming the header to use settles it.
var ErrAmbiguousColumn = errors.New("two columns mean one field")

// ErrColumnChoice is a column choice (FIELD=HEADER) that names no field of
// the input.
var ErrColumnChoice = errors.New("bad column choice")

// normalizeHeader is how header names match: ignoring case, spaces, _ and -.
func normalizeHeader(h string) string {
	var b strings.Builder
	for _, r := range strings.TrimSpace(h) {
		switch r {
		case ' ', '_', '-', '\t':
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// columns is a schema ready to resolve headers: every normalized name that
// means a column, and the headers the user chose for some of them.
type columns struct {
	schema Schema
	names  map[string]int // normalized name or alias -> column
	chosen []string       // by column: the normalized header chosen for it, or ""
	given  []string       // by column: the header as the user wrote it
}

// compile checks choices ("FIELD=HEADER") against the schema.
func (s Schema) compile(choices []string) (*columns, error) {
	c := &columns{schema: s, names: map[string]int{}, chosen: make([]string, len(s)), given: make([]string, len(s))}
	for i, col := range s {
		c.names[normalizeHeader(col.Name)] = i
		for _, a := range col.Aliases {
			c.names[normalizeHeader(a)] = i
		}
	}
	for _, ch := range choices {
		field, hdr, ok := strings.Cut(ch, "=")
		field, hdr = strings.TrimSpace(field), normalizeHeader(hdr)
		i := slices.IndexFunc(s, func(col Column) bool { return normalizeHeader(col.Name) == normalizeHeader(field) })
		switch {
		case !ok || field == "" || hdr == "":
			return nil, fmt.Errorf("%w %q: want FIELD=HEADER, e.g. %s=\"Room Ext\"", ErrColumnChoice, ch, s[0].Name)
		case i < 0:
			return nil, fmt.Errorf("%w %q: %s is not a field of this input; the fields are %s", ErrColumnChoice, ch, field, s.names())
		case c.chosen[i] != "":
			return nil, fmt.Errorf("%w %q: a header for %s is already chosen", ErrColumnChoice, ch, s[i].Name)
		}
		c.chosen[i], c.given[i] = hdr, strings.TrimSpace(ch[strings.IndexByte(ch, '=')+1:])
	}
	return c, nil
}

func (s Schema) names() string {
	var n []string
	for _, c := range s {
		n = append(n, c.Name)
	}
	return strings.Join(n, ", ")
}

// resolve maps a file's header cells to the schema's columns: at[col] is
// the index of the column's cell in a record, or -1. A non-empty message
// says why the header can't be read.
func (c *columns) resolve(cells []string) (at []int, msg string, cause error) {
	at = make([]int, len(c.schema))
	for i := range at {
		at[i] = -1
	}
	norm := make([]string, len(cells))
	for i, h := range cells {
		norm[i] = normalizeHeader(h)
	}
	taken := make([]bool, len(cells))
	for col, want := range c.chosen {
		if want == "" {
			continue
		}
		for i, n := range norm {
			if n != want {
				continue
			}
			if at[col] >= 0 {
				return nil, fmt.Sprintf("columns %q and %q both match the header chosen for %s", printable(cells[at[col]]), printable(cells[i]), c.schema[col].Name), ErrAmbiguousColumn
			}
			at[col], taken[i] = i, true
		}
		if at[col] < 0 {
			return nil, fmt.Sprintf("no column %q, chosen for %s; the header has %s", printable(c.given[col]), c.schema[col].Name, printableList(cells)), nil
		}
	}
	for i, n := range norm {
		col, ok := c.names[n]
		if !ok || taken[i] || c.chosen[col] != "" {
			continue // not ours, or the user named another column for it
		}
		if at[col] >= 0 {
			return nil, fmt.Sprintf("columns %q and %q both mean %s", printable(cells[at[col]]), printable(cells[i]), c.schema[col].Name), ErrAmbiguousColumn
		}
		at[col] = i
	}
	for col, def := range c.schema {
		if !def.Required || at[col] >= 0 || slices.ContainsFunc(def.Unless, func(u string) bool { return at[c.names[normalizeHeader(u)]] >= 0 }) {
			continue
		}
		also := ""
		if len(def.Aliases) > 0 {
			also = " (or " + strings.Join(def.Aliases, ", ") + ")"
		}
		if len(def.Unless) > 0 {
			also += " is missing (it may be left out when the file has a column " + strings.Join(def.Unless, " or ") + ")"
		} else {
			also += " is missing"
		}
		return nil, fmt.Sprintf("required column %s%s; the header has %s", def.Name, also, printableList(cells)), nil
	}
	return at, "", nil
}

// printable is a header cell fit for a message.
// printable is a value fit to repeat in a message: valid UTF-8, and cut
// (on a rune boundary) when long, since a header may be a 50 MB line.
func printable(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) > 80 {
		cut := 77
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

func printableList(cells []string) string {
	out := make([]string, 0, len(cells))
	for i, c := range cells {
		if i == 20 {
			out = append(out, fmt.Sprintf("… (%d columns)", len(cells)))
			break
		}
		out = append(out, printable(c))
	}
	return strings.Join(out, ", ")
}

// isReport reports whether a header is one of the given report headers:
// bulksync's own output, whose column names alias the input's.
func isReport(cells []string, reports [][]string) bool {
	for _, r := range reports {
		if slices.EqualFunc(cells, r, func(a, b string) bool { return strings.TrimSpace(a) == b }) {
			return true
		}
	}
	return false
}

// badByte finds the first byte of v that is not UTF-8, and the character
// it is at (1-based).
func badByte(v string) (byte, int, bool) {
	if utf8.ValidString(v) {
		return 0, 0, false
	}
	for i := 0; i < len(v); {
		r, n := utf8.DecodeRuneInString(v[i:])
		if r == utf8.RuneError && n == 1 {
			return v[i], utf8.RuneCountInString(v[:i]) + 1, true
		}
		i += n
	}
	return 0, 0, false
}
