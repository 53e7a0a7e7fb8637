package job

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bulksync/bulksync/internal/csvmodel"
	"github.com/bulksync/bulksync/internal/storage"
	"github.com/rs/zerolog"
)

// ErrTooOld is an export modified longer ago than --max-age: a property
// management system that stopped exporting would have last week's file
// applied again.
var ErrTooOld = errors.New("export older than --max-age")

// inputFile is one file of the input, found and opened: a local path is
// read where it is (csvmodel checks it did not change between passes); a
// URL is read once from its store into a spool file.
type inputFile struct {
	name string          // as rows and messages name it: the path, or the URL without its secrets
	path string          // local path, "-", or URL
	obj  *storage.Object // a URL's bytes; nil for a local path and "-"
}

// openInputs finds and opens the files of in: with Newest, each is a
// pattern read as its newest match; with MaxAge, one modified longer ago is
// refused, before any call to the API.
func openInputs(ctx context.Context, store *storage.Store, in Input, now time.Time, log zerolog.Logger) ([]inputFile, error) {
	var files []inputFile
	fail := func(err error) ([]inputFile, error) {
		for _, f := range files {
			if f.obj != nil {
				f.obj.Close()
			}
		}
		return nil, err
	}
	for _, path := range in.Files {
		if path == "-" {
			if in.MaxAge > 0 {
				return fail(usage("standard input has no modification time: --max-age can't judge it; name the export's file"))
			}
			files = append(files, inputFile{name: csvmodel.StdinName, path: path})
			continue
		}
		var listed storage.Info
		if in.Newest {
			p, info, err := store.Newest(ctx, path)
			if err != nil {
				return fail(readError(err))
			}
			log.Info().Str("pattern", storage.Redact(path)).Str("file", storage.Redact(p)).Time("modified", info.ModTime).Msg("newest match")
			path, listed = p, info
		}
		f := inputFile{name: storage.Redact(path), path: path}
		var info storage.Info
		var err error
		if storage.IsURL(path) {
			if f.obj, err = store.Open(ctx, path); err == nil {
				info = f.obj.Info()
				if in.Newest && listed.Version != "" && info.Version != listed.Version {
					err = fmt.Errorf("%s changed between finding it and reading it: %w", f.name, storage.ErrChanged)
				}
			}
		} else if in.MaxAge > 0 {
			info, err = store.Stat(ctx, path)
		}
		if err != nil {
			if f.obj != nil {
				f.obj.Close()
			}
			return fail(readError(err))
		}
		files = append(files, f)
		if age := now.Sub(info.ModTime); in.MaxAge > 0 && age > in.MaxAge {
			return fail(fmt.Errorf("%w: %s was last modified %s ago (%s), more than --max-age %s; nothing was sent: is the export stale?",
				ErrTooOld, f.name, age.Round(time.Minute), info.ModTime.UTC().Format(time.RFC3339), in.MaxAge))
		}
	}
	return files, nil
}

// redactAll is files as logs name them: each URL without its secrets.
func redactAll(files []string) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = storage.Redact(f)
	}
	return out
}

// names are the files' names, as rows and messages give them.
func names(files []inputFile) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.name
	}
	return out
}

// readError is an input that can't be read: nothing was sent (exit 2).
func readError(err error) error { return &UsageError{err} }

// closeInputs closes what openInputs opened.
func closeInputs(files []inputFile) error {
	var errs []error
	for _, f := range files {
		if f.obj != nil {
			errs = append(errs, f.obj.Close())
		}
	}
	return errors.Join(errs...)
}
