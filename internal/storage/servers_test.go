package storage

import (
	"context"
	"strconv"
	"sync"
)

// The real servers these tests run against are started by
// internal/storage/storagetest, and installed by .ci/storage-servers.sh.

// retrying is a caller's retry policy: up to n attempts while the error is
// temporary; whats records each attempt's description.
func retrying(n int, mu *sync.Mutex, whats *[]string) func(context.Context, string, func(context.Context) error) error {
	return func(ctx context.Context, what string, op func(context.Context) error) error {
		var err error
		for i := 0; i < n; i++ {
			mu.Lock()
			*whats = append(*whats, what)
			mu.Unlock()
			if err = op(ctx); err == nil || !Temporary(err) || ctx.Err() != nil {
				return err
			}
		}
		return err
	}
}

// itoa is strconv.Itoa, short for building URLs.
func itoa(i int) string { return strconv.Itoa(i) }
