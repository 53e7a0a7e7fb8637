package storagetest

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob" // the azblob:// URL opener
)

// Azurite's well-known development account (published in its README; no
// real account's key). AzuriteKey must show in no message.
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Azurite is Microsoft's Azure Storage emulator (its blob service) on
// loopback, keeping its blobs in memory.
type Azurite struct {
	Addr string // host:port
	// Env is the development account's credentials, which StartAzurite sets
	// in the process. gocloud's azblob opener reads them once per process,
	// at the first azblob:// URL: every test of a process must use the same
	// account.
	Env map[string]string

	bucket *blob.Bucket
}

// azuriteDir is test/azurite, where `npm ci` installs Azurite.
func azuriteDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "test", "azurite")
}

// StartAzurite runs Azurite's blob service with an empty container named
// Bucket and sets the development account's credentials in the process.
func StartAzurite(t testing.TB) *Azurite {
	t.Helper()
	bin := filepath.Join(azuriteDir(), "node_modules", ".bin", "azurite-blob")
	if _, err := os.Stat(bin); err != nil {
		Missing(t, "Azurite (cd test/azurite && npm ci)")
	}
	Tool(t, "node")
	a := &Azurite{Addr: FreeAddr(t), Env: map[string]string{
		"AZURE_STORAGE_ACCOUNT":              AzuriteAccount,
		"AZURE_STORAGE_KEY":                  AzuriteKey,
		"AZURE_STORAGE_SAS_TOKEN":            "",
		"AZURE_STORAGE_CONNECTION_STRING":    "",
		"AZURE_STORAGEBLOB_CONNECTIONSTRING": "",
	}}
	setenv(t, a.Env)
	start(t, t.TempDir(), "successfully listens", bin, "--blobHost", "127.0.0.1", "--blobPort", Port(t, a.Addr),
		"--inMemoryPersistence", "--skipApiVersionCheck", "--disableProductStyleUrl", "--silent",
		"--disableTelemetry") // telemetry would send to addresses off this machine
	ctx := context.Background()
	b, err := blob.OpenBucket(ctx, "azblob://"+Bucket+"?protocol=http&localemu=true&domain="+a.Addr+"&storage_account="+AzuriteAccount)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	var c *container.Client
	if !b.As(&c) {
		t.Fatal("no Azure container client under the bucket")
	}
	if _, err := c.Create(ctx, nil); err != nil {
		t.Fatalf("create container: %v", err)
	}
	a.bucket = b
	return a
}

// URL is the azblob:// URL of key, with the query parameters that reach
// the emulator.
func (a *Azurite) URL(key string) string { return a.URLAt(a.Addr, key) }

// URLAt is the URL key would have on an Azurite at addr (a closed or a
// silent one).
func (a *Azurite) URLAt(addr, key string) string {
	return "azblob://" + Bucket + "/" + key + "?protocol=http&localemu=true&domain=" + addr + "&storage_account=" + AzuriteAccount
}

// Put uploads data as key. Azurite keeps times to the second and can't
// be told another.
func (a *Azurite) Put(t testing.TB, key string, data []byte) {
	t.Helper()
	if err := a.bucket.WriteAll(context.Background(), key, data, nil); err != nil {
		t.Fatalf("put azblob %s: %v", key, err)
	}
}
