// Command bulksync keeps the Alexa Smart Properties WebRTC account
// associations of a property in line with a CSV export.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/bulksync/bulksync/internal/job"
)

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	// SIGHUP (an ssh session dropping) and SIGQUIT stop a run as SIGTERM
	// does: exit 4 with the summary and a whole report. Go's own SIGQUIT
	// would dump the goroutines and exit 2, which means nothing was written.
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	// Without Notify, a write to a closed pipe on stdout (--report - | head)
	// kills the process by SIGPIPE mid-run, with no summary. With it, the
	// write fails with EPIPE: the report's writer sees it and the run ends
	// as an interrupted one does, telling what it did. Nothing needs to read
	// the channel.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	var stdout io.Writer = os.Stdout
	if stdoutClosedAtStart() {
		stdout = closedStdout{}
	}
	go func() {
		// The first signal stops the run: no new call starts, calls in
		// flight finish, the rest is reported skipped, and from then on the
		// report writes every row as it comes. The second quits at once.
		cancel(interrupted{<-sigs})
		<-sigs
		os.Exit(exitCodes[job.Interrupted])
	}()
	os.Exit(runWith(ctx, os.Args[1:], &globals{env: parseEnv(os.Environ()), stdin: os.Stdin, stdout: stdout, stderr: os.Stderr}))
}

// interrupted is why a run stopped on a signal; it is a context.Canceled,
// so the run ends Interrupted.
type interrupted struct{ sig os.Signal }

func (i interrupted) Error() string {
	return fmt.Sprintf("interrupted by %v: no new call was started, rows not sent are reported as skipped", i.sig)
}

func (interrupted) Is(target error) bool { return target == context.Canceled }

// errStdoutClosed is a write to a standard output that was closed.
var errStdoutClosed = errors.New("standard output is closed")

// closedStdout is a standard output that was closed when bulksync started:
// what is written to it is lost, so every write fails.
type closedStdout struct{}

func (closedStdout) Write([]byte) (int, error) { return 0, errStdoutClosed }
