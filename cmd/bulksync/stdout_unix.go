//go:build unix

package main

import "golang.org/x/sys/unix"

// stdoutClosedAtStart reports whether standard output was closed when the
// process started. The Go runtime then opens /dev/null, read-write, in its
// place, and every write "succeeds"; a shell's >/dev/null opens it
// write-only, so that choice stays a choice.
func stdoutClosedAtStart() bool {
	const fd = 1
	flags, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
	if err != nil || flags&unix.O_ACCMODE != unix.O_RDWR {
		return false
	}
	var st, null unix.Stat_t
	if unix.Fstat(fd, &st) != nil || unix.Stat("/dev/null", &null) != nil {
		return false
	}
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == null.Rdev
}
