package job

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
)

// maxSecretFile bounds a credential file: Login with Amazon's tokens and
// secrets are a few hundred bytes, and /dev/zero must not grow to
// gigabytes.
const maxSecretFile = 64 << 10

// errNotRegular is a credential path that is not a regular file.
var errNotRegular = errors.New("not a regular file")

// readSecretFile reads a credential file: a regular file (a Kubernetes
// secret mount's symlink to one is fine) of at most maxSecretFile bytes.
// It is opened without blocking, so a FIFO with no writer is refused at
// once instead of hanging the process past SIGTERM.
func readSecretFile(path string) ([]byte, error) {
	f, err := openNonBlocking(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w (%s)", errNotRegular, kind(fi.Mode()))
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSecretFile {
		return nil, fmt.Errorf("larger than %d KiB: not a credential", maxSecretFile>>10)
	}
	return b, nil
}

// kind names what a path that is not a regular file is.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.Type().String()
}
