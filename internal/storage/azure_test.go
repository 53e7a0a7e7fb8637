package storage

import (
	"testing"

	"github.com/bulksync/bulksync/internal/storage/storagetest"
)

func TestAzureAgainstAzurite(t *testing.T) {
	srv := storagetest.StartAzurite(t)
	testBackend(t, backend{
		addr:  srv.Addr,
		urlAt: func(_ *testing.T, addr, key string) string { return srv.URLAt(addr, key) },
		put:   func(t *testing.T, key string, data []byte) { srv.Put(t, key, data) },
		// Azurite lists times to the second: neither settable nor fine.
		secrets: []string{storagetest.AzuriteKey},
	})
}
