package csvmodel

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// stream is head and then fill over and over, n bytes in all, counting
// what is read of it: a large export that never sits in memory.
type stream struct {
	head, fill string
	n, read    int64
}

func (s *stream) Read(p []byte) (int, error) {
	if s.read >= s.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), s.n-s.read)]
	for i := range p {
		at := s.read + int64(i)
		if at < int64(len(s.head)) {
			p[i] = s.head[at]
		} else {
			p[i] = s.fill[(at-int64(len(s.head)))%int64(len(s.fill))]
		}
	}
	s.read += int64(len(p))
	return len(p), nil
}

// A record that passes MaxRecordBytes is refused as soon as it does, with
// the line where it starts, having read little more than the bound of a
// 64 MiB stream: what encoding/csv holds of it is bounded too.
func TestRecordBound(t *testing.T) {
	const header = "externalUserId,amazonId,notes\n"
	rows := strings.Repeat("7201,amzn1.a,x\n", 16)
	const tooLong = "a record longer than 1 MiB starts here: is a quote never closed?"
	tests := []struct {
		name, head, fill string
		want             string
	}{
		{"a stray quote", header + rows + "\"7218,amzn1.b,x\n", "7219,amzn1.c,x\n", "s.csv:18: " + tooLong},
		{"a quote closed late, then a long line", header + "7201,\"amzn1.a\n\",", "x", "s.csv:2: " + tooLong},
		{"one endless field", header + rows + "7218,amzn1.b,", "x", "s.csv:18: " + tooLong},
		{"an endless header", "", "externalUserId,", "s.csv:1: " + tooLong},
		{"after empty lines", header + "7201,amzn1.a,x\n\n\r\n\n\"", "7202,amzn1.b,x\r\n", "s.csv:6: " + tooLong},
		{"bare CR line ends", "externalUserId,amazonId\r7201,amzn1.a\r\"", "7202,amzn1.b\r", "s.csv:3: " + tooLong},
		{"empty lines only", header + "7201,amzn1.a,x\n", "\n", "s.csv:2: more than 1 MiB of empty lines follow the record that starts here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &stream{head: tt.head, fill: tt.fill, n: 64 << 20}
			r, err := NewReader(Options{DefaultProvider: sp})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			err = r.Read("s.csv", in)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v\nwant %s", err, tt.want)
			}
			if !errors.Is(err, ErrRecordTooLong) {
				t.Errorf("%v is not ErrRecordTooLong", err)
			}
			if limit := int64(MaxRecordBytes + 256<<10); in.read > limit {
				t.Errorf("read %d bytes of the stream before refusing it, want at most %d", in.read, limit)
			}
		})
	}
}

// The bound is on the record, not the file or the line: a record of
// MaxRecordBytes is read, quoted line breaks and all, with or without a
// line end after it; one byte more is refused. Tables are bounded alike.
func TestRecordBoundEdges(t *testing.T) {
	const header = "externalUserId,amazonId,notes\n"
	record := func(n int, end string) string { // a record of n bytes, its line end included
		start := "7201,amzn1.a,\"two\nlines"
		return start + strings.Repeat("x", n-len(start)-1-len(end)) + "\"" + end
	}
	tests := []struct {
		name, in string
		want     string // the error, or the rows' lines and verdicts
	}{
		{"at the bound", header + record(MaxRecordBytes, "\n") + "7202,amzn1.b,\n", "[2:0 4:0]"},
		{"at the bound, CRLF", header + record(MaxRecordBytes, "\r\n") + "7202,amzn1.b,\r\n", "[2:0 4:0]"},
		{"at the bound, last", header + record(MaxRecordBytes, ""), "[2:0]"},
		{"over it", header + record(MaxRecordBytes+1, "\n") + "7202,amzn1.b,\n", "f1.csv:2: a record longer than 1 MiB starts here: is a quote never closed?"},
		{"over it, last", header + record(MaxRecordBytes+1, ""), "f1.csv:2: a record longer than 1 MiB starts here: is a quote never closed?"},
		{"many records, each small", header + strings.Repeat("7201,amzn1.a,"+strings.Repeat("x", 1000)+"\n", 3000), "3000 rows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := read(t, tt.in)
			got := ""
			switch {
			case err != nil:
				got = err.Error()
			case strings.HasSuffix(tt.want, "rows"):
				got = fmt.Sprint(len(rows(t, r)), " rows")
			default:
				var lines []string
				for _, c := range rows(t, r) {
					lines = append(lines, fmt.Sprintf("%d:%v", c.Line, c.Status))
				}
				got = fmt.Sprint(lines)
			}
			if got != tt.want {
				t.Errorf("got  %.200s\nwant %s", got, tt.want)
			}
		})
	}
	err := ReadTable("p.csv", &stream{head: "skillId,productId\n\"", fill: "x", n: 8 << 20}, []Column{{Name: "skillId"}, {Name: "productId"}}, 0, func(TableRow) {})
	if !errors.Is(err, ErrRecordTooLong) || !strings.HasPrefix(err.Error(), "p.csv:2: ") {
		t.Errorf("table: got %v, want p.csv:2 refused as too long", err)
	}
}
