package storage

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"gocloud.dev/blob"
)

// Azurite's well-known development account (published in its README; no
// real account's key).
const (
	azAccount = "devstoreaccount1"
	azKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// azureDir is test/azurite, where `npm ci` installs Azurite.
func azureDir(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "test", "azurite")
}

func azURL(_ *testing.T, addr, key string) string {
	return "azblob://pms/" + key + "?protocol=http&localemu=true&domain=" + addr + "&storage_account=" + azAccount
}

func TestAzureAgainstAzurite(t *testing.T) {
	bin := filepath.Join(azureDir(t), "node_modules", ".bin", "azurite-blob")
	if _, err := os.Stat(bin); err != nil {
		missing(t, "Azurite (cd test/azurite && npm ci)")
	}
	tool(t, "node")
	// gocloud's azblob opener reads these once per process, at the first
	// azblob:// URL: every test here uses the same development account.
	t.Setenv("AZURE_STORAGE_ACCOUNT", azAccount)
	t.Setenv("AZURE_STORAGE_KEY", azKey)
	t.Setenv("AZURE_STORAGE_SAS_TOKEN", "")
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", "")
	t.Setenv("AZURE_STORAGEBLOB_CONNECTIONSTRING", "")
	addr := freeAddr(t)
	dir := t.TempDir()
	startServer(t, dir, "successfully listens", bin, "--blobHost", "127.0.0.1", "--blobPort", port(t, addr),
		"--inMemoryPersistence", "--skipApiVersionCheck", "--disableProductStyleUrl", "--silent",
		"--disableTelemetry") // telemetry would send to addresses off this machine
	ctx := context.Background()
	raw, err := blob.OpenBucket(ctx, "azblob://pms?protocol=http&localemu=true&domain="+addr+"&storage_account="+azAccount)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var c *container.Client
	if !raw.As(&c) {
		t.Fatal("no Azure container client under the bucket")
	}
	if _, err := c.Create(ctx, nil); err != nil {
		t.Fatalf("create container: %v", err)
	}
	testBackend(t, backend{
		addr:  addr,
		urlAt: azURL,
		put: func(t *testing.T, key string, data []byte) {
			if err := raw.WriteAll(ctx, key, data, nil); err != nil {
				t.Fatal(err)
			}
		},
		// Azurite lists times to the second: neither settable nor fine.
		secrets: []string{azKey},
	})
}
