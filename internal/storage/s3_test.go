package storage

import (
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/storage/storagetest"
)

func TestS3AgainstVersitygw(t *testing.T) {
	srv := storagetest.StartS3(t)
	testBackend(t, backend{
		addr:  srv.Addr,
		urlAt: func(_ *testing.T, addr, key string) string { return srv.URLAt(addr, key) },
		put:   func(t *testing.T, key string, data []byte) { srv.Put(t, key, data) },
		// versitygw's posix backend reports a file's own modification time.
		mtime:   func(t *testing.T, key string, mod time.Time) { srv.SetModTime(t, key, mod) },
		secrets: []string{storagetest.S3Secret},
	})
}
