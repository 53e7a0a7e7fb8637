package storagetest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/gcsblob" // the gs:// URL opener
)

// GCS is fake-gcs-server on loopback, keeping its objects in memory.
type GCS struct {
	Addr string // host:port

	bucket *blob.Bucket
}

// StartGCS runs fake-gcs-server with an empty bucket named Bucket and
// points the process's Google Cloud Storage client at it
// (STORAGE_EMULATOR_HOST). Set before the first gs:// URL is opened, that
// variable also keeps gocloud from looking for Google credentials, for the
// rest of the process.
func StartGCS(t testing.TB) *GCS {
	t.Helper()
	bin := Tool(t, "fake-gcs-server")
	data := t.TempDir()
	if err := os.Mkdir(filepath.Join(data, Bucket), 0o755); err != nil { // an empty folder seeds an empty bucket
		t.Fatal(err)
	}
	g := &GCS{Addr: FreeAddr(t)}
	t.Setenv("STORAGE_EMULATOR_HOST", g.Addr)
	start(t, data, "server started", bin, "-scheme", "http", "-host", "127.0.0.1", "-port", Port(t, g.Addr),
		"-public-host", g.Addr, "-backend", "memory", "-data", data)
	b, err := blob.OpenBucket(context.Background(), "gs://"+Bucket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	g.bucket = b
	return g
}

// URL is the gs:// URL of key. The server is the one STORAGE_EMULATOR_HOST
// names: a gs:// URL has no endpoint of its own.
func (g *GCS) URL(key string) string { return "gs://" + Bucket + "/" + key }

// Put uploads data as key. fake-gcs-server stamps each write with the time
// to the nanosecond, so of objects put one after another the last is the
// newest; their times can't be set.
func (g *GCS) Put(t testing.TB, key string, data []byte) {
	t.Helper()
	if err := g.bucket.WriteAll(context.Background(), key, data, nil); err != nil {
		t.Fatalf("put gs %s: %v", key, err)
	}
}
