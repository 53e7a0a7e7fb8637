package storage

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"gocloud.dev/blob"
)

// gcsURL names key in the test's bucket, and points the GCS client at the
// server at addr (STORAGE_EMULATOR_HOST is how the SDK is told).
func gcsURL(t *testing.T, addr, key string) string {
	t.Setenv("STORAGE_EMULATOR_HOST", addr)
	return "gs://pms/" + key
}

func TestGCSAgainstFakeGCSServer(t *testing.T) {
	bin := tool(t, "fake-gcs-server")
	data := t.TempDir()
	if err := os.Mkdir(filepath.Join(data, "pms"), 0o755); err != nil { // an empty folder seeds an empty bucket
		t.Fatal(err)
	}
	addr := freeAddr(t)
	// Set before any gs:// URL is opened: with it, gocloud never looks for
	// Google credentials (nor asks a metadata server for them).
	t.Setenv("STORAGE_EMULATOR_HOST", addr)
	startServer(t, data, "server started", bin, "-scheme", "http", "-host", "127.0.0.1", "-port", port(t, addr),
		"-public-host", addr, "-backend", "memory", "-data", data)
	ctx := context.Background()
	raw, err := blob.OpenBucket(ctx, "gs://pms")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	testBackend(t, backend{
		addr:  addr,
		urlAt: gcsURL,
		put: func(t *testing.T, key string, data []byte) {
			if err := raw.WriteAll(ctx, key, data, nil); err != nil {
				t.Fatal(err)
			}
		},
		fineTimes: true, // fake-gcs-server stamps each write with the time to the nanosecond
	})
}
