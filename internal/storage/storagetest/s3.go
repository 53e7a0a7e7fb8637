package storagetest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/s3blob" // the s3:// URL opener
)

// The credentials the S3 server accepts. S3Secret must show in no message.
const (
	S3Access = "AKIABULKSYNCTEST"
	S3Secret = "s3cret-Bulksync-Key-0123456789"
)

// S3 is versitygw serving a folder over S3 on loopback.
type S3 struct {
	Addr string // host:port
	// Root is the folder served: Root/pms is the bucket pms, one file per
	// object.
	Root string
	// Env is what the AWS SDK needs to reach the server with the right
	// credentials and nothing else (no shared config files, no instance
	// metadata); StartS3 sets it in the process. A run's own environment
	// should carry it too, so that bulksync knows the secret to hide.
	Env map[string]string

	bucket *blob.Bucket
}

// StartS3 runs versitygw with an empty bucket named Bucket and points the
// process's AWS SDK at its credentials.
func StartS3(t testing.TB) *S3 {
	t.Helper()
	bin := Tool(t, "versitygw")
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, Bucket), 0o755); err != nil {
		t.Fatal(err)
	}
	s := &S3{Addr: FreeAddr(t), Root: root, Env: map[string]string{
		"AWS_ACCESS_KEY_ID":           S3Access,
		"AWS_SECRET_ACCESS_KEY":       S3Secret,
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             filepath.Join(root, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(root, "no-aws-credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
	}}
	setenv(t, s.Env)
	start(t, root, "http://"+s.Addr, bin, "--access", S3Access, "--secret", S3Secret, "--port", s.Addr, "posix", root)
	b, err := blob.OpenBucket(context.Background(), "s3://"+Bucket+"?endpoint=http://"+s.Addr+"&region=us-east-1&use_path_style=true")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	s.bucket = b
	return s
}

// URL is the s3:// URL of key, with the query parameters that reach the
// server.
func (s *S3) URL(key string) string { return s.URLAt(s.Addr, key) }

// URLAt is the URL key would have on an S3 server at addr (a closed or a
// silent one).
func (s *S3) URLAt(addr, key string) string {
	return "s3://" + Bucket + "/" + key + "?endpoint=http://" + addr + "&region=us-east-1&use_path_style=true"
}

// Put uploads data as key through the S3 API.
func (s *S3) Put(t testing.TB, key string, data []byte) {
	t.Helper()
	if err := s.bucket.WriteAll(context.Background(), key, data, nil); err != nil {
		t.Fatalf("put s3 %s: %v", key, err)
	}
}

// SetModTime makes key last modified at mod. versitygw's posix backend
// reports a file's own modification time as the object's LastModified, so
// an upload's time can be set back where S3 itself would not allow it.
func (s *S3) SetModTime(t testing.TB, key string, mod time.Time) {
	t.Helper()
	if err := os.Chtimes(filepath.Join(s.Root, Bucket, filepath.FromSlash(key)), mod, mod); err != nil {
		t.Fatal(err)
	}
}
