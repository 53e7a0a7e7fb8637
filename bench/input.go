package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/job"
	"github.com/bulksync/bulksync/internal/worker"
)

// secondProvider is the export's other provider: a region's export spans
// properties.
const secondProvider = "amzn1.comms.csp.id.second"

// inputKinds are the input measures, each in a process of its own so that
// its peak memory is its own: the floor (a bare encoding/csv read of the
// file), validate, and plan on the in-process emulator.
var inputKinds = []string{"floor", "validate", "plan"}

// inputRuns is how many times each input measure runs.
const inputRuns = 5

// inputMeasure is one child's figures.
type inputMeasure struct {
	seconds float64 // the work, without the process's start
	peakMiB float64 // peak RSS
}

func (m inputMeasure) rate(rows int) float64 { return float64(rows) / m.seconds }

// input measures reading at each size: validate against the floor of the
// same file, in one run, and plan's peak memory.
func input(w io.Writer, c config) error {
	for _, n := range c.inputRows {
		file, err := writeExport(n)
		if err != nil {
			return err
		}
		defer os.Remove(file)
		// Each measure runs inputRuns times, interleaved: the fastest time
		// (the least disturbed by whatever else the machine does) and the
		// highest peak.
		m := map[string]inputMeasure{}
		for range inputRuns {
			for _, kind := range inputKinds {
				got, err := runInputChild(kind, file)
				if err != nil {
					return fmt.Errorf("%s of %d rows: %w", kind, n, err)
				}
				if old, ok := m[kind]; ok {
					got.seconds, got.peakMiB = min(got.seconds, old.seconds), max(got.peakMiB, old.peakMiB)
				}
				m[kind] = got
			}
		}
		floor, val, plan := m["floor"], m["validate"], m["plan"]
		fmt.Fprintf(w, "| input, %d rows: bare encoding/csv read (ReuseRecord), the floor | %.0f rows/s, peak RSS %.0f MiB | |\n", n, floor.rate(n), floor.peakMiB)
		fmt.Fprintf(w, "| input, %d rows: validate | %.0f rows/s = %.2f × the floor's time, peak RSS %.0f MiB | ≤ 3 ×, ≤ 128 MiB |\n",
			n, val.rate(n), val.seconds/floor.seconds, val.peakMiB)
		fmt.Fprintf(w, "| input, %d rows: plan, empty state, in-process emulator, --rps 1e6 | %.0f rows/s, peak RSS %.0f MiB | ≤ 256 MiB |\n",
			n, plan.rate(n), plan.peakMiB)
	}
	return nil
}

// writeExport writes n rooms of two providers, as issue 18 measured them:
// externalUserId,amazonId,serviceProviderId.
func writeExport(n int) (string, error) {
	f, err := os.CreateTemp("", "bench-export-*.csv")
	if err != nil {
		return "", err
	}
	defer f.Close()
	b := bufio.NewWriterSize(f, 1<<20)
	b.WriteString("externalUserId,amazonId,serviceProviderId\n")
	for i := range n {
		p := sp
		if i%2 == 1 {
			p = secondProvider
		}
		fmt.Fprintf(b, "%d,amzn1.alexa.communications.profile.did.%024X,%s\n", 1000000+i, i*7919, p)
	}
	if err := b.Flush(); err != nil {
		return "", err
	}
	return f.Name(), f.Close()
}

// runInputChild runs this binary again as one measure and reads its peak
// memory from the kernel.
func runInputChild(kind, file string) (inputMeasure, error) {
	self, err := os.Executable()
	if err != nil {
		return inputMeasure{}, err
	}
	cmd := exec.Command(self, "-input-child", kind, file)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		return inputMeasure{}, err
	}
	secs, err := strconv.ParseFloat(strings.TrimSpace(out.String()), 64)
	if err != nil {
		return inputMeasure{}, fmt.Errorf("child said %q: %w", out.String(), err)
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return inputMeasure{seconds: secs, peakMiB: float64(ru.Maxrss) / 1024}, nil
}

// inputChild is the child's side: it does one measure's work and prints
// the seconds it took.
func inputChild(kind, path string) int {
	start := time.Now()
	var err error
	switch kind {
	case "floor":
		err = floorRead(path)
	case "validate":
		err = validateFile(path)
	case "plan":
		err = planFile(path)
	default:
		err = fmt.Errorf("no measure %q", kind)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(time.Since(start).Seconds())
	return 0
}

// floorRead is the least any reader of the file does: encoding/csv with
// ReuseRecord, every record read and dropped.
func floorRead(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.ReuseRecord = true
	for {
		if _, err := cr.Read(); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// validateFile is "bulksync validate FILE".
func validateFile(path string) error {
	res, err := job.Validate(context.Background(), job.Input{Files: []string{path}, DefaultProvider: sp}, "", quiet())
	if err == nil && res.Verdict != job.Clean {
		err = fmt.Errorf("validate ended %v", res.Verdict)
	}
	return err
}

// planFile is "bulksync plan --emulate --rps 1e6 FILE" on an empty state:
// every row a planned create, a report row each.
func planFile(path string) error {
	e, srv, err := server(emulator.Options{})
	if err != nil {
		return err
	}
	defer srv.Close()
	e.Put(secondProvider, nil)
	api, err := client.New(client.Options{Endpoint: srv.URL, Token: client.StaticToken(token),
		HTTPClient: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}})
	if err != nil {
		return err
	}
	rep, err := os.CreateTemp("", "bench-plan-report-*.csv")
	if err != nil {
		return err
	}
	rep.Close()
	defer os.Remove(rep.Name())
	res, err := job.Run(context.Background(), &job.Session{API: api, Caller: worker.New(worker.Config{RPS: 1e6})},
		job.Options{Command: "plan", DryRun: true, Input: job.Input{Files: []string{path}, DefaultProvider: sp},
			Report: rep.Name(), Progress: "off", IO: quiet()}) // the default --max-deletes
	if err == nil && (res.Verdict != job.Clean || res.Summary.Outcomes["planned"] == 0) {
		err = fmt.Errorf("plan ended %v: %v %s", res.Verdict, res.Summary.Outcomes, res.Summary.Message)
	}
	return err
}
