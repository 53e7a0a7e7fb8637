//go:build !unix

package main

// stdoutClosedAtStart can't tell elsewhere: a closed standard output shows
// as write errors, if at all.
func stdoutClosedAtStart() bool { return false }
