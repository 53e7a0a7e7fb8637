package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/report"
)

// A run's outputs: the report, the summary file and a saved plan. One that
// can't be written before the first call stops the run with nothing sent;
// one that fails later ends it OutputLost, and says so everywhere.

func TestRunOutputs(t *testing.T) {
	const rows = "externalUserId,amazonId\n7201,amzn1.a\n7202,amzn1.b\n"
	tests := []struct {
		name string
		opts func(a *api, o *Options)
		// calls is whether the run may call the API at all.
		calls   bool
		verdict Verdict
		err     string
		hint    string
	}{{
		name:    "the report and the summary where they were asked",
		opts:    func(a *api, o *Options) { o.Report, o.Summary = a.path("report.csv"), a.path("summary.json") },
		calls:   true,
		verdict: Clean,
	}, {
		name:    "the report on standard output",
		opts:    func(a *api, o *Options) { o.Report = "-" },
		calls:   true,
		verdict: Clean,
	}, {
		name:    "a report under a file, not a folder",
		opts:    func(a *api, o *Options) { a.file(t, "file.txt", "x"); o.Report = a.path("file.txt/report.csv") },
		verdict: OutputLost,
		err:     "can't write the report to " + "REPORT" + ": ",
		hint:    "fix the path (or free the disk) and run again",
	}, {
		name:    "a summary under a file, not a folder",
		opts:    func(a *api, o *Options) { a.file(t, "file.txt", "x"); o.Summary = a.path("file.txt/summary.json") },
		verdict: OutputLost,
		err:     "can't write the summary to " + "SUMMARY" + ": ",
		hint:    "fix the path (or free the disk) and run again",
	}, {
		name:    "a report over the input",
		opts:    func(a *api, o *Options) { o.Report = o.Input.Files[0] },
		verdict: Usage,
		err:     "refusing to overwrite a file with an output: the report " + "REPORT" + " is the input",
		hint:    "give --report, --summary, --rejects and plan --out paths of their own",
	}, {
		name: "a summary over the report, through another name",
		opts: func(a *api, o *Options) {
			o.Report, o.Summary = a.path("report.csv"), filepath.Join(a.dir, ".", "sub", "..", "report.csv")
			os.Mkdir(a.path("sub"), 0o755)
		},
		verdict: Usage,
		err:     "the summary " + "SUMMARY" + " is the report",
		hint:    "give --report, --summary, --rejects and plan --out paths of their own",
	}, {
		name: "a summary over the report, through a symlinked directory",
		opts: func(a *api, o *Options) {
			if err := os.Symlink(a.dir, a.path("link")); err != nil {
				t.Skip(err)
			}
			o.Report, o.Summary = a.path("report.csv"), filepath.Join(a.dir, "link", "report.csv")
		},
		verdict: Usage,
		err:     "the summary " + "SUMMARY" + " is the report",
	}, {
		name:    "a saved plan over the input",
		opts:    func(a *api, o *Options) { o.DryRun, o.PlanOut = true, o.Input.Files[0] },
		verdict: Usage,
		err:     "the plan " + "PLAN" + " is the input",
	}, {
		name:    "a saved plan that can't be written, once the run is done",
		opts:    func(a *api, o *Options) { o.DryRun, o.PlanOut = true, filepath.Join(o.Input.Files[0], "plan.json") },
		calls:   true,
		verdict: OutputLost,
		err:     "can't write the plan to " + "PLAN",
		hint:    "fix the path (or free the disk) and run again: a second run makes no needless write",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI(t, emulator.Options{})
			var st streams
			o := Options{Command: "sync", Input: Input{Files: []string{a.file(t, "rooms.csv", rows)}, DefaultProvider: demo}, Progress: "off", IO: st.io()}
			tt.opts(a, &o)
			res, err := Run(context.Background(), a.session(t, Connect{}), o)
			want := strings.NewReplacer("REPORT", o.Report, "SUMMARY", o.Summary, "PLAN", o.PlanOut).Replace(tt.err)
			if res.Verdict != tt.verdict || tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), want)) {
				t.Fatalf("got %d, %v; want verdict %d and an error saying %q", res.Verdict, err, tt.verdict, want)
			}
			if got := a.Stats().Total > 0; got != tt.calls {
				t.Errorf("calls made: %v, want %v (%d calls)", got, tt.calls, a.Stats().Total)
			}
			if !strings.Contains(res.Summary.Hint, tt.hint) || res.Summary.ExitCode != exitCodes[tt.verdict] {
				t.Errorf("summary: hint %q, exit code %d; want %q and %d", res.Summary.Hint, res.Summary.ExitCode, tt.hint, exitCodes[tt.verdict])
			}
			if tt.calls && tt.verdict != Clean {
				return
			}
			if tt.err != "" {
				if !strings.Contains(err.Error(), "nothing was sent") && tt.verdict == OutputLost {
					t.Errorf("error %q: want it to say nothing was sent", err)
				}
				return
			}
			// What was asked for is there, and says what the run did.
			var rep []map[string]string
			switch o.Report {
			case "-":
				rep = readReport(t, st.stdout.Bytes())
			default:
				rep = readReportFile(t, o.Report)
			}
			if got := fates(rep, "external_user_id"); got != "7201 created, 7202 created" {
				t.Errorf("report: %s", got)
			}
			if res.Summary.Report != o.Report {
				t.Errorf("summary report: got %q, want %q", res.Summary.Report, o.Report)
			}
			if o.Summary == "" {
				return
			}
			data, err := os.ReadFile(o.Summary)
			if err != nil {
				t.Fatal(err)
			}
			var sum report.Summary
			if err := json.Unmarshal(data, &sum); err != nil {
				t.Fatalf("summary file: %v\n%s", err, data)
			}
			if sum.Command != "sync" || sum.Rows != 2 || sum.Outcomes["created"] != 2 || sum.ExitCode != 0 || sum.Report != o.Report ||
				sum.Calls["query"] != 1 || sum.Calls["create"] != 2 {
				t.Errorf("summary file: %s", data)
			}
		})
	}
}

// failAfter is a writer that takes n bytes and then fails, as a closed
// pipe or a full disk does.
type failAfter struct{ n int }

var errGone = errors.New("broken pipe")

func (w *failAfter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		n := w.n
		w.n = 0
		return n, errGone
	}
	w.n -= len(p)
	return len(p), nil
}

// A report on standard output that breaks mid-run stops the run: no new
// call, the rows after are skipped, the end says the record is not whole.
func TestReportLostMidRun(t *testing.T) {
	a := newAPI(t, emulator.Options{})
	var in strings.Builder
	in.WriteString("externalUserId,amazonId\n")
	const n = 2000 // a report of them is more than the writer buffers
	for i := range n {
		fmt.Fprintf(&in, "%d,amzn1.profile.%d\n", 10000+i, i)
	}
	var st streams
	o := Options{Command: "plan", DryRun: true, Input: Input{Files: []string{a.file(t, "rooms.csv", in.String())}, DefaultProvider: demo},
		Report: "-", Progress: "off", IO: st.io()}
	o.IO.Stdout = &failAfter{n: 1000}
	res, err := Run(context.Background(), a.session(t, Connect{Calls: oneAtATime()}), o)
	var oe *OutputError
	if res.Verdict != OutputLost || !errors.As(err, &oe) || oe.What != "report" || !errors.Is(err, errGone) {
		t.Fatalf("got %d, %v; want OutputLost by the report", res.Verdict, err)
	}
	if !strings.Contains(err.Error(), "can't write the report to standard output: broken pipe") ||
		!strings.Contains(res.Summary.Hint, "rows finished after the failure are missing from the report") {
		t.Errorf("error %q, hint %q", err, res.Summary.Hint)
	}
	if got := res.Summary.Outcomes["skipped"]; got == 0 {
		t.Errorf("outcomes %v: want the rows after the failure skipped", res.Summary.Outcomes)
	}
	if queries := a.Stats().Count("association.query", ""); queries >= n/30 {
		t.Errorf("%d queries of %d: the run went on after its report broke", queries, n/30+1)
	}
	if len(st.events(t, "stopping: an output can't be written; no new call starts; calls in flight finish")) != 1 {
		t.Errorf("log: want one stopping event:\n%s", st.log.String())
	}
}

// An output path that is a device (/dev/full) is refused before the first
// call, never written to nor replaced: an output is a regular file.
func TestOutputsOnAFullDisk(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full here")
	}
	for _, tt := range []struct {
		what    string
		opts    func(*Options)
		calls   bool
		err     string
		outcome string
	}{
		{"report", func(o *Options) { o.Report = "/dev/full" }, false, "can't write the report to /dev/full: /dev/full is a character device, not a regular file; it is left as it is; nothing was sent", ""},
		{"summary", func(o *Options) { o.Summary = "/dev/full" }, false, "can't write the summary to /dev/full: /dev/full is a character device", ""},
	} {
		t.Run(tt.what, func(t *testing.T) {
			a := newAPI(t, emulator.Options{})
			var st streams
			o := Options{Command: "sync", Input: Input{Files: []string{a.file(t, "rooms.csv", "externalUserId,amazonId\n7201,amzn1.a\n")}, DefaultProvider: demo},
				Progress: "off", IO: st.io()}
			tt.opts(&o)
			res, err := Run(context.Background(), a.session(t, Connect{}), o)
			if res.Verdict != OutputLost || err == nil || !strings.Contains(err.Error(), tt.err) || res.Summary.ExitCode != exitCodes[OutputLost] {
				t.Fatalf("got %d (exit %d), %v; want OutputLost saying %q", res.Verdict, res.Summary.ExitCode, err, tt.err)
			}
			if got := a.Stats().Total > 0; got != tt.calls {
				t.Errorf("calls made: %v, want %v", got, tt.calls)
			}
			if got := outcomes(res.Summary.Outcomes); got != tt.outcome {
				t.Errorf("outcomes: %q, want %q", got, tt.outcome)
			}
		})
	}
}
