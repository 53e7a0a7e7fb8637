package job

import (
	"errors"

	"github.com/bulksync/bulksync/internal/csvmodel"
	"github.com/bulksync/bulksync/internal/reconcile"
)

// Hint is what to do about an error that ended a run, in the words of the
// command line; "" when there is nothing more to say than the error.
func Hint(err error) string {
	var ge *reconcile.GuardError
	var oe *OutputError
	var ae *advice
	switch {
	case errors.As(err, &ae):
		return ae.what
	case errors.Is(err, ErrSamePath):
		return "give --report, --summary, --rejects and plan --out paths of their own, apart from the input files"
	case errors.Is(err, ErrTooSlow):
		return "raise --rps: a run must be able to finish within a day"
	case errors.As(err, &oe) && oe.What == "answer":
		return "the call was made, but its answer is lost: read it back with get"
	case errors.As(err, &oe) && oe.Early:
		return "fix the path (or free the disk) and run again"
	case errors.As(err, &oe) && oe.What == "report":
		return "rows finished after the failure are missing from the report; what was sent is done: run again once the report can be written (a second run makes no needless write)"
	case errors.As(err, &oe):
		return "fix the path (or free the disk) and run again: a second run makes no needless write"
	case errors.Is(err, reconcile.ErrEmpty):
		return "refusing to run without --allow-empty: an empty export must never wipe a property"
	case errors.Is(err, reconcile.ErrStrict):
		return "--strict is set: fix the rows (bulksync validate lists them) or drop --strict"
	case errors.As(err, &ge):
		return "if these deletes are meant, raise --max-deletes (-1: no limit)"
	case errors.Is(err, csvmodel.ErrAmbiguousColumn):
		return "name the column to read with --column FIELD=HEADER, e.g. --column externalUserId=Extension"
	case errors.Is(err, csvmodel.ErrColumnChoice):
		return "--column takes FIELD=HEADER, e.g. --column externalUserId=\"Room Ext\""
	}
	return ""
}

// advice is an error with what to do about it: a refusal the API
// documents, explained.
type advice struct {
	error
	what string
}

func (a *advice) Unwrap() error { return a.error }
