package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	gcs "cloud.google.com/go/storage"
	azblobblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	// The URL openers for s3://, gs:// and azblob://.
	_ "gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/s3blob"
)

// bucket returns the open bucket of loc, opening it once per Store.
func (s *Store) bucket(ctx context.Context, loc location) (*blob.Bucket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.buckets[loc.bucketURL]; ok {
		return b, nil
	}
	b, err := blob.OpenBucket(ctx, loc.bucketURL)
	if err != nil {
		// An unknown query parameter or a missing region: the URL is wrong.
		return nil, fmt.Errorf("%w: %w", ErrBadPath, err)
	}
	s.buckets[loc.bucketURL] = b
	return b, nil
}

// blobErr names a missing object plainly and keeps any other error whole.
func blobErr(err error) error {
	if gcerrors.Code(err) == gcerrors.NotFound {
		return ErrNotFound
	}
	return err
}

// blobTemporary classifies an error the blob drivers returned; known is
// false for an error that did not come from them.
func blobTemporary(err error) (temporary, known bool) {
	switch gcerrors.Code(err) {
	case gcerrors.OK, gcerrors.Unknown: // Unknown is also any error not from gocloud
		return false, false
	case gcerrors.NotFound, gcerrors.PermissionDenied, gcerrors.InvalidArgument,
		gcerrors.FailedPrecondition, gcerrors.Unimplemented, gcerrors.AlreadyExists, gcerrors.Canceled:
		return false, true
	}
	return true, true
}

// attrsVersion is the version Stat reports: GCS's generation, else the
// ETag, else size and time. readerVersion must agree with it.
func attrsVersion(a *blob.Attributes) string {
	var oa gcs.ObjectAttrs
	if a.As(&oa) && oa.Generation != 0 {
		return "generation " + strconv.FormatInt(oa.Generation, 10)
	}
	if a.ETag != "" {
		return "etag " + strings.Trim(a.ETag, `"`)
	}
	return fileVersion(a.Size, a.ModTime)
}

// readerVersion is the version of the bytes a reader returns, from the
// reader's own response, so a write between a Stat and a read shows.
func readerVersion(r *blob.Reader) string {
	var g *gcs.Reader
	if r.As(&g) && g != nil && g.Attrs.Generation != 0 {
		return "generation " + strconv.FormatInt(g.Attrs.Generation, 10)
	}
	var o s3.GetObjectOutput
	if r.As(&o) && o.ETag != nil {
		return "etag " + strings.Trim(*o.ETag, `"`)
	}
	var az azblobblob.DownloadStreamResponse
	if r.As(&az) && az.ETag != nil {
		return "etag " + strings.Trim(string(*az.ETag), `"`)
	}
	return fileVersion(r.Size(), r.ModTime())
}

func (s *Store) blobStat(ctx context.Context, loc location) (Info, error) {
	b, err := s.bucket(ctx, loc)
	if err != nil {
		return Info{}, err
	}
	var info Info
	err = s.do(ctx, "stat "+Redact(loc.raw), func(ctx context.Context) error {
		a, err := b.Attributes(ctx, loc.key)
		if err != nil {
			return blobErr(err)
		}
		info = Info{Size: a.Size, ModTime: a.ModTime, Version: attrsVersion(a)}
		return nil
	})
	return info, err
}

func (s *Store) blobOpen(ctx context.Context, loc location) (*Object, error) {
	b, err := s.bucket(ctx, loc)
	if err != nil {
		return nil, err
	}
	spool, err := s.spoolFile()
	if err != nil {
		return nil, err
	}
	var info Info
	err = s.do(ctx, "read "+Redact(loc.raw), func(ctx context.Context) error {
		if err := resetSpool(spool); err != nil {
			return err
		}
		r, err := b.NewReader(ctx, loc.key, nil)
		if err != nil {
			return blobErr(err)
		}
		defer r.Close()
		n, err := io.Copy(spool, r)
		if err != nil {
			return err
		}
		if n != r.Size() {
			return fmt.Errorf("read %d bytes of %d", n, r.Size())
		}
		info = Info{Size: n, ModTime: r.ModTime(), Version: readerVersion(r)}
		return nil
	})
	if err != nil {
		closeSpool(spool)
		return nil, err
	}
	return &Object{f: spool, size: info.Size, info: info, spool: true}, nil
}

// blobUpload puts the spool's bytes at loc. A blob write becomes visible
// only when it completes; a failed or cancelled attempt leaves the object
// as it was.
func (s *Store) blobUpload(ctx context.Context, loc location, spool *os.File, size int64) error {
	b, err := s.bucket(ctx, loc)
	if err != nil {
		return err
	}
	return s.do(ctx, "write "+Redact(loc.raw), func(ctx context.Context) error {
		return b.Upload(ctx, loc.key, io.NewSectionReader(spool, 0, size), &blob.WriterOptions{ContentType: contentType(loc.key)})
	})
}

// contentType names a CSV or JSON output's type; gocloud would otherwise
// guess from the first bytes.
func contentType(key string) string {
	switch strings.ToLower(path.Ext(key)) {
	case ".csv":
		return "text/csv; charset=utf-8"
	case ".json":
		return "application/json"
	}
	return ""
}

// blobList lists the objects directly under the prefix dir whose last
// segment matches glob.
func (s *Store) blobList(ctx context.Context, loc location, dir, glob string) ([]candidate, error) {
	b, err := s.bucket(ctx, loc)
	if err != nil {
		return nil, err
	}
	// List only what starts like the pattern: less to page through.
	prefix := dir
	if i := strings.IndexAny(glob, `*?[\`); i >= 0 {
		prefix += glob[:i]
	} else {
		prefix += glob
	}
	var out []candidate
	err = s.do(ctx, "list "+Redact(loc.raw), func(ctx context.Context) error {
		out = out[:0]
		it := b.List(&blob.ListOptions{Prefix: prefix, Delimiter: "/"})
		for {
			obj, err := it.Next(ctx)
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return blobErr(err)
			}
			if obj.IsDir {
				continue
			}
			if ok, _ := path.Match(glob, strings.TrimPrefix(obj.Key, dir)); ok {
				out = append(out, candidate{name: obj.Key, mod: obj.ModTime})
			}
		}
	})
	return out, err
}
