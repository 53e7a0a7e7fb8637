package storage

import (
	"testing"

	"github.com/bulksync/bulksync/internal/storage/storagetest"
)

func TestGCSAgainstFakeGCSServer(t *testing.T) {
	srv := storagetest.StartGCS(t)
	testBackend(t, backend{
		addr: srv.Addr,
		// A gs:// URL has no endpoint: STORAGE_EMULATOR_HOST tells the SDK
		// which server a URL reaches.
		urlAt: func(t *testing.T, addr, key string) string {
			t.Setenv("STORAGE_EMULATOR_HOST", addr)
			return srv.URL(key)
		},
		put:       func(t *testing.T, key string, data []byte) { srv.Put(t, key, data) },
		fineTimes: true, // fake-gcs-server stamps each write with the time to the nanosecond
	})
}
