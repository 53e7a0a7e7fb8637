package job

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/bulksync/bulksync/internal/storage"
)

// commitTimeout bounds making the outputs of a run whole once it has
// ended, the run's own context cancelled or not: a report whose upload
// hangs must not keep a finished Job alive.
const commitTimeout = 2 * time.Minute

// Outputs are written by the storage room (internal/storage), whole or not
// at all: a local file beside its path renamed over it (a path that exists
// and is not a regular file is refused, never replaced; a symlink is
// written through to its target), a remote object (s3://, gs://, azblob://,
// sftp://) uploaded, or written under a temporary name and renamed, at the
// commit. The per-row report alone is written in place as it goes (Stream),
// so that a killed run leaves a readable one.

// createOutput starts an output to path, whole or not at all.
func createOutput(ctx context.Context, store *storage.Store, path string) (*storage.Writer, error) {
	return store.Create(ctx, path, storage.Atomic)
}

// commit makes an output land, even after the run was told to stop:
// what it records must reach its path.
func commit(ctx context.Context, w *storage.Writer) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	return w.Commit(ctx)
}

// writeOutput writes an output whole through write: "-" is stdout,
// anything else a path or URL the store writes whole or not at all.
func writeOutput(ctx context.Context, store *storage.Store, path string, stdout io.Writer, write func(io.Writer) error) error {
	if path == "-" {
		return write(stdout)
	}
	w, err := createOutput(ctx, store, path)
	if err != nil {
		return err
	}
	if err := write(w); err != nil {
		w.Abort()
		return err
	}
	return commit(ctx, w)
}

// readWhole reads a small file whole (a saved plan, a manifest): a local
// path, or a URL through the store.
func readWhole(ctx context.Context, store *storage.Store, path string) ([]byte, error) {
	if !storage.IsURL(path) {
		return os.ReadFile(path)
	}
	obj, err := store.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	return io.ReadAll(io.NewSectionReader(obj, 0, obj.Size()))
}
