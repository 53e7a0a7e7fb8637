package job

import (
	"regexp"
	"strings"
	"time"
)

// NewRunID is a new run's id: on every log line of the run, in its summary,
// and in output paths that ask for it ({run_id}).
func NewRunID() string { return randomHex(6) }

// TimeLayout is how {time} is written in an output path: UTC, sorting by
// name as by time (20261202T031500Z).
const TimeLayout = "20060102T150405Z"

// expandPath fills an output path's {run_id} and {time} (the run's start),
// so that every run keeps its own outputs.
func expandPath(path, runID string, start time.Time) string {
	if !strings.Contains(path, "{") {
		return path
	}
	return strings.NewReplacer("{run_id}", runID, "{time}", start.UTC().Format(TimeLayout)).Replace(path)
}

// urlPassword is the password of a URL's user information: scheme://user:PASSWORD@host.
var urlPassword = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^/?#@\s:]*):[^/?#@\s]*@`)

// CommandLine is the command line of a run as its summary tells it: the
// arguments after "bulksync", quoted where a shell would need it, with the
// password of any URL (a --pushgateway https://user:password@host) hidden.
// No flag carries a credential (SPEC 3); a URL's user information is the
// one place one could be typed.
func CommandLine(args []string) string {
	words := []string{"bulksync"}
	for _, a := range args {
		a = urlPassword.ReplaceAllString(a, "$1:xxxxx@")
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$`*?[]{}()<>|&;#~!") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		words = append(words, a)
	}
	return strings.Join(words, " ")
}
