package storage

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gocloud.dev/blob"
)

// S3 credentials the test's versitygw accepts; the secret must show in no
// message.
const (
	s3Access = "AKIABULKSYNCTEST"
	s3Secret = "s3cret-Bulksync-Key-0123456789"
)

// s3Env points the AWS SDK at the test's credentials and nothing else: no
// shared config files, no instance metadata.
func s3Env(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", s3Access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3Secret)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func s3URL(addr, key string) string {
	return "s3://pms/" + key + "?endpoint=http://" + addr + "&region=us-east-1&use_path_style=true"
}

// startVersitygw serves root (each folder a bucket) over S3 on loopback.
func startVersitygw(t *testing.T, root string) string {
	bin := tool(t, "versitygw")
	addr := freeAddr(t)
	startServer(t, root, "http://"+addr, bin, "--access", s3Access, "--secret", s3Secret, "--port", addr, "posix", root)
	return addr
}

func TestS3AgainstVersitygw(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "pms"), 0o755); err != nil {
		t.Fatal(err)
	}
	addr := startVersitygw(t, root)
	s3Env(t)
	ctx := context.Background()
	raw, err := blob.OpenBucket(ctx, s3URL(addr, "x")[:len("s3://pms")]+"?endpoint=http://"+addr+"&region=us-east-1&use_path_style=true")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	testBackend(t, backend{
		addr:  addr,
		urlAt: func(_ *testing.T, addr, key string) string { return s3URL(addr, key) },
		put: func(t *testing.T, key string, data []byte) {
			if err := raw.WriteAll(ctx, key, data, nil); err != nil {
				t.Fatal(err)
			}
		},
		// versitygw's posix backend reports a file's own modification time.
		mtime: func(t *testing.T, key string, mod time.Time) {
			if err := os.Chtimes(filepath.Join(root, "pms", filepath.FromSlash(key)), mod, mod); err != nil {
				t.Fatal(err)
			}
		},
		secrets: []string{s3Secret},
	})
}
