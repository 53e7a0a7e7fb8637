package job

import (
	"encoding/base64"
	"slices"
	"testing"
)

// What a process knows to scrub before it reads a credential: the
// passwords of the URLs it was given, in each spelling a server may echo,
// and the storage credentials of its environment.
func TestKnownSecrets(t *testing.T) {
	args := []string{"sync", "--report", "sftp://ops:sftp-pass-0042@127.0.0.1:2222/r.csv", "rooms.csv", "a:b@c"}
	env := map[string]string{"BULKSYNC_PUSHGATEWAY": "http://push:push-pass-0042@127.0.0.1:9091", "AWS_SECRET_ACCESS_KEY": "aws-secret-0042",
		"BULKSYNC_SFTP_PASSWORD": "env-pass-0042", "HOME": "/root"}
	got := KnownSecrets(args, env)
	for _, want := range []string{"sftp-pass-0042", "push-pass-0042", "aws-secret-0042", "env-pass-0042",
		base64.StdEncoding.EncodeToString([]byte("push:push-pass-0042"))} {
		if !slices.Contains(got, want) {
			t.Errorf("KnownSecrets misses %q: %q", want, got)
		}
	}
	for _, not := range []string{"rooms.csv", "/root", "ops", "push"} {
		if slices.Contains(got, not) {
			t.Errorf("KnownSecrets holds %q, no secret: %q", not, got)
		}
	}
}
