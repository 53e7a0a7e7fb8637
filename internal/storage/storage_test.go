package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"gocloud.dev/blob/memblob"
	"gocloud.dev/gcerrors"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/data/rooms.csv", "/data/rooms.csv"},
		{"rooms:v2.csv", "rooms:v2.csv"},
		{"sftp://pms@sftp.example.com/in/rooms.csv", "sftp://pms@sftp.example.com/in/rooms.csv"},
		{"sftp://pms:s3cret@sftp.example.com:2222/in/rooms.csv", "sftp://pms:xxxxx@sftp.example.com:2222/in/rooms.csv"},
		{"s3://pms/exports/rooms.csv?endpoint=http://127.0.0.1:9000&region=us-east-1&use_path_style=true",
			"s3://pms/exports/rooms.csv?endpoint=http://127.0.0.1:9000&region=us-east-1&use_path_style=true"},
		{"s3://pms/k?region=eu-west-1&role_external_id=tenant-secret&X-Amz-Signature=abc", "s3://pms/k?region=eu-west-1&role_external_id=xxxxx&X-Amz-Signature=xxxxx"},
		{"azblob://c/k?sig=abc&sv=2024&se=2026", "azblob://c/k?sig=xxxxx&sv=2024&se=2026"},
		{"gs://b/k?access_token=abc#frag", "gs://b/k?access_token=xxxxx"},
		// Unparsable: the part that may be a password and the query go.
		{"sftp://pms:pa%zzss@host/in/x.csv?token=abc", "sftp://xxxxx@host/in/x.csv"},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestIsURL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"s3://b/k", true},
		{"sftp://u@h/p", true},
		{"http://h/p", true}, // refused by Open, not taken for a local file
		{"/data/s3://x", false},
		{"rooms.csv", false},
		{"C:\\data\\rooms.csv", false},
		{"://x", false},
		{"-", false},
	} {
		if got := IsURL(tc.in); got != tc.want {
			t.Errorf("IsURL(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in                          string
		bucketURL, key, hostport    string
		remote, user, password, bad string // bad: a word of the error
	}{
		{in: "s3://pms/exports/rooms.csv?region=us-east-1", bucketURL: "s3://pms?region=us-east-1", key: "exports/rooms.csv"},
		{in: "gs://pms/rooms.csv", bucketURL: "gs://pms", key: "rooms.csv"},
		{in: "sftp://pms@h/in/rooms.csv", hostport: "h:22", remote: "/in/rooms.csv", user: "pms"},
		{in: "sftp://pms:pw@h:2222/~/in/rooms.csv", hostport: "h:2222", remote: "in/rooms.csv", user: "pms", password: "pw"},
		{in: "sftp://pms@[::1]:2222//abs/../x.csv", hostport: "[::1]:2222", remote: "/x.csv", user: "pms"},
		{in: "s3://key:secret@pms/k", bad: "take no user"},
		{in: "s3:///k", bad: "no bucket"},
		{in: "s3://pms/exports/", bad: "names a folder"},
		{in: "gs://pms", bad: "names a folder"},
		{in: "sftp://h/in/x.csv", bad: "no user"},
		{in: "sftp://u@h/in/", bad: "names a folder"},
		{in: "sftp://u@h/~/", bad: "names a folder"},
		{in: "sftp://u@h/x?port=1", bad: "no query"},
		{in: "http://h/rooms.csv", bad: "not one of"},
		{in: "", bad: "empty"},
	} {
		loc, err := parse(tc.in)
		if tc.bad != "" {
			if !errors.Is(err, ErrBadPath) || !strings.Contains(err.Error(), tc.bad) {
				t.Errorf("parse(%q) = %v, want ErrBadPath saying %q", tc.in, err, tc.bad)
			}
			continue
		}
		if err != nil {
			t.Errorf("parse(%q): %v", tc.in, err)
			continue
		}
		got := [6]string{loc.bucketURL, loc.key, loc.hostport, loc.remote, loc.user, loc.password}
		want := [6]string{tc.bucketURL, tc.key, tc.hostport, tc.remote, tc.user, tc.password}
		if got != want {
			t.Errorf("parse(%q) = %q, want %q", tc.in, got, want)
		}
	}
}

func TestParsePattern(t *testing.T) {
	for _, tc := range []struct {
		in, dir, glob, bad string
	}{
		{in: "s3://pms/exports/rooms-*.csv?region=x", dir: "exports/", glob: "rooms-*.csv"},
		{in: "s3://pms/rooms-*.csv", dir: "", glob: "rooms-*.csv"},
		{in: "sftp://u@h/~/in/rooms-2026120%3F.csv", dir: "in/", glob: "rooms-2026120?.csv"}, // ? starts a URL's query
		{in: "/data/rooms-*.csv", dir: "/data/", glob: "rooms-*.csv"},
		{in: "rooms-*.csv", dir: "", glob: "rooms-*.csv"},
		{in: "s3://pms/*/rooms.csv", bad: "only the last part"},
		{in: "/data/*/rooms-*.csv", bad: "only the last part"},
		{in: "/data/rooms-[.csv", bad: "syntax error"},
	} {
		_, dir, glob, err := parsePattern(tc.in)
		if tc.bad != "" {
			if !errors.Is(err, ErrBadPath) || !strings.Contains(err.Error(), tc.bad) {
				t.Errorf("parsePattern(%q) = %v, want ErrBadPath saying %q", tc.in, err, tc.bad)
			}
			continue
		}
		if err != nil || dir != tc.dir || glob != tc.glob {
			t.Errorf("parsePattern(%q) = %q, %q, %v; want %q, %q", tc.in, dir, glob, err, tc.dir, tc.glob)
		}
	}
}

func TestNewestTakesTheLatestTimeThenTheGreaterName(t *testing.T) {
	day := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		in   []candidate
		want string
	}{
		{"time beats name", []candidate{{"rooms-20261203.csv", day}, {"rooms-20261201.csv", day.Add(time.Hour)}}, "rooms-20261201.csv"},
		{"a tie goes to the greater name", []candidate{{"rooms-20261202.csv", day}, {"rooms-20261201.csv", day}, {"rooms-20261130.csv", day}}, "rooms-20261202.csv"},
		{"a tie, greater name first", []candidate{{"rooms-20261202.csv", day}, {"rooms-20261201.csv", day}}, "rooms-20261202.csv"},
		{"one", []candidate{{"rooms.csv", day}}, "rooms.csv"},
	} {
		got, ok := newest(tc.in)
		if !ok || got.name != tc.want {
			t.Errorf("%s: newest = %q, %v; want %q", tc.name, got.name, ok, tc.want)
		}
	}
	if _, ok := newest(nil); ok {
		t.Error("newest of nothing found something")
	}
}

func TestTemporary(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"a timeout", fmt.Errorf("no answer: %w", context.DeadlineExceeded), true},
		{"cancelled", context.Canceled, false},
		{"not found", ErrNotFound, false},
		{"host key", fmt.Errorf("%w: unknown", ErrHostKey), false},
		{"refused credentials", fmt.Errorf("%w: user pms", errAuth), false},
		{"bad path", ErrBadPath, false},
		{"output not a regular file", ErrNotRegular, false},
		{"permission denied", fs.ErrPermission, false},
		{"lost connection", sftp.ErrSSHFxConnectionLost, true},
		{"a refused TCP connection", errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), true},
		{"sftp server's failure", &sftp.StatusError{Code: 4}, false},
		{"blob not found", memblobMissing(t), false},
		{"none", nil, false},
	} {
		if got := Temporary(tc.err); got != tc.want {
			t.Errorf("%s: Temporary(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

// memblobMissing is gocloud's own error for a missing object.
func memblobMissing(t *testing.T) error {
	b := memblob.OpenBucket(nil)
	defer b.Close()
	_, err := b.Attributes(context.Background(), "missing")
	if gcerrors.Code(err) != gcerrors.NotFound {
		t.Fatalf("memblob said %v, want a NotFound", err)
	}
	return err
}

func TestErrorMessagesHideEverySecretTheStoreKnows(t *testing.T) {
	env := map[string]string{
		"AWS_SECRET_ACCESS_KEY":           "aws/secret+key=",
		"AZURE_STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=http;AccountName=dev;AccountKey=azKEY123==;BlobEndpoint=http://127.0.0.1:1/dev;",
		"BULKSYNC_SFTP_PASSWORD":          "sftp-pass",
	}
	s := New(Options{Env: func(k string) string { return env[k] }})
	for _, leak := range []string{"aws/secret+key=", "aws%2Fsecret%2Bkey%3D", "azKEY123==", "sftp-pass"} {
		err := s.fail("read", "s3://pms/k", errors.New("the server said: "+leak))
		if msg := err.Error(); strings.Contains(msg, leak) || !strings.Contains(msg, "xxxxx") {
			t.Errorf("message %q shows %q", msg, leak)
		}
	}
	err := s.fail("read", "sftp://u:pw-in-url@h/x", errors.New("the server said: pw-in-url"))
	if strings.Contains(err.Error(), "pw-in-url") {
		t.Errorf("message %q shows the URL's password", err)
	}
}
