// Command bench measures bulksync against the in-process emulator on
// loopback and prints a markdown table: calls spent against the minimum,
// achieved rate against --rps, goodput under a server limit, overhead
// against a bare net/http loop, and the input reader's speed and memory.
//
//	go run ./bench                 # the figures in BENCHMARKS.md
//	go run ./bench -only input     # reading: floor, validate, plan at 100k and 1M rows
//	go run ./bench -quick          # tiny sizes, a smoke run
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/bulksync/bulksync/internal/csvmodel"
	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/job"
	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/bulksync/bulksync/internal/worker"
	"github.com/rs/zerolog"
)

const (
	token = "bench-token"
	sp    = emulator.DefaultProvider
)

type config struct {
	rows, rateCalls, throttledCalls, overheadCalls int
	inputRows                                      []int
	only                                           string
}

func main() {
	if len(os.Args) == 4 && os.Args[1] == "-input-child" {
		os.Exit(inputChild(os.Args[2], os.Args[3]))
	}
	quick := flag.Bool("quick", false, "tiny sizes: a smoke run, not a measurement")
	c := config{}
	flag.IntVar(&c.rows, "rows", 10000, "rows of the call-count run (30% of them changes)")
	flag.IntVar(&c.rateCalls, "rate-calls", 3000, "calls of the saturation run")
	flag.IntVar(&c.throttledCalls, "throttled-calls", 1000, "calls of the throttled run")
	flag.IntVar(&c.overheadCalls, "overhead-calls", 20000, "calls of the overhead run")
	inputRows := flag.String("input-rows", "100000,1000000", "sizes of the input runs (floor, validate, plan), comma-separated")
	only := flag.String("only", "", "run one measure: calls, rate, throttled, overhead or input")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the run here")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	c.only = *only
	for _, f := range strings.Split(*inputRows, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bench: -input-rows: %q is not a row count\n", f)
			os.Exit(2)
		}
		c.inputRows = append(c.inputRows, n)
	}
	if *quick {
		c = config{rows: 300, rateCalls: 100, throttledCalls: 60, overheadCalls: 300, inputRows: []int{5000}, only: c.only}
	}
	if err := bench(os.Stdout, c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func bench(w io.Writer, c config) error {
	fmt.Fprintf(w, "| measure | figure | target |\n| --- | --- | --- |\n")
	steps := []struct {
		name string
		run  func(io.Writer, config) error
	}{{"calls", calls}, {"rate", saturation}, {"throttled", throttled}, {"overhead", overhead}, {"input", input}}
	for _, step := range steps {
		if c.only != "" && c.only != step.name {
			continue
		}
		if err := step.run(w, c); err != nil {
			return fmt.Errorf("%s: %w", step.name, err)
		}
	}
	fmt.Fprintf(w, "\n%s, %d CPUs, %s\n", runtime.Version(), runtime.NumCPU(), cpuModel())
	return nil
}

// server starts an emulator on loopback.
func server(o emulator.Options) (*emulator.Emulator, *httptest.Server, error) {
	o.StaticToken = token
	e, err := emulator.New(o)
	if err != nil {
		return nil, nil, err
	}
	return e, httptest.NewServer(e), nil
}

// syncJob runs the shipped job, as "bulksync sync" does, over file against
// the emulator at url, with the report written to a temporary file.
func syncJob(url, file string, cfg worker.Config) (job.Result, *worker.Pool, error) {
	api, err := client.New(client.Options{Endpoint: url, Token: client.StaticToken(token),
		HTTPClient: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}})
	if err != nil {
		return job.Result{}, nil, err
	}
	pool := worker.New(cfg)
	rep, err := os.CreateTemp("", "bench-report-*.csv")
	if err != nil {
		return job.Result{}, nil, err
	}
	rep.Close()
	defer os.Remove(rep.Name())
	res, err := job.Run(context.Background(),
		job.Config{Command: "sync", Input: job.Input{Files: []string{file}, DefaultProvider: sp},
			MaxDeletes: &reconcile.Limit{None: true}, Report: rep.Name(), Progress: "off"},
		job.Deps{API: api, Pool: pool, Stdout: io.Discard, Stderr: io.Discard, Log: zerolog.Nop(), ExitCode: func(job.Verdict) int { return 0 }})
	if err == nil && res.Verdict != job.Clean {
		err = fmt.Errorf("run ended %v: %s", res.Verdict, res.Summary.Message)
	}
	return res, pool, err
}

// hotel writes an export of n rooms to a temporary file and seeds the
// emulator so that changeShare of them need a write (half creates, half
// updates). It returns the file and the number of changes.
func hotel(e *emulator.Emulator, n int, changeShare float64) (string, int, error) {
	existing := map[string]string{}
	var b strings.Builder
	b.WriteString("externalUserId,amazonId\n")
	changes := 0
	for i := 0; i < n; i++ {
		id := fmt.Sprint(100000 + i)
		want := fmt.Sprintf("amzn1.alexa.communications.profile.did.%d", i)
		switch {
		case float64(i%100) < changeShare*50:
			changes++ // absent: a create
		case float64(i%100) < changeShare*100:
			existing[id] = want + ".old" // stale: an update
			changes++
		default:
			existing[id] = want
		}
		fmt.Fprintf(&b, "%s,%s\n", id, want)
	}
	e.Put(sp, existing)
	f, err := os.CreateTemp("", "bench-*.csv")
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	if _, err := f.WriteString(b.String()); err != nil {
		return "", 0, err
	}
	return f.Name(), changes, nil
}

func calls(w io.Writer, c config) error {
	minimum := 0
	for _, page := range []int{30, 10} {
		e, srv, err := server(emulator.Options{PageSize: page})
		if err != nil {
			return err
		}
		file, changes, err := hotel(e, c.rows, 0.3)
		if err != nil {
			return err
		}
		defer os.Remove(file)
		if _, _, err := syncJob(srv.URL, file, worker.Config{RPS: 1e6, Concurrency: 16}); err != nil {
			return err
		}
		srv.Close()
		got := e.Stats().Total
		minimum = int(math.Ceil(float64(c.rows)/30)) + changes
		// What the server's page limit forces: a batch finding f ids takes
		// ceil(f/page) pages, at least one.
		limited := changes
		for start := 0; start < c.rows; start += 30 {
			found := 0
			for i := start; i < min(start+30, c.rows); i++ {
				if !(float64(i%100) < 0.3*50) {
					found++
				}
			}
			limited += max(1, int(math.Ceil(float64(found)/float64(page))))
		}
		fmt.Fprintf(w, "| calls, %d rows, 30%% changes, server page limit %d | %d calls = %.2f × ⌈ids/30⌉+changes (%d); %.2f × what the page limit forces (%d) | 1.00 |\n",
			c.rows, page, got, float64(got)/float64(minimum), minimum, float64(got)/float64(limited), limited)
	}

	// naive: one query per row, then its write
	e2, srv2, err := server(emulator.Options{PageSize: 10})
	if err != nil {
		return err
	}
	defer srv2.Close()
	file, _, err := hotel(e2, c.rows, 0.3)
	if err != nil {
		return err
	}
	defer os.Remove(file)
	r, err := csvmodel.NewReader(csvmodel.Options{DefaultProvider: sp})
	if err != nil {
		return err
	}
	defer r.Close()
	if err := r.ReadFile(file); err != nil {
		return err
	}
	var rows []csvmodel.Checked
	for c, err := range r.Rows() {
		if err != nil {
			return err
		}
		rows = append(rows, c)
	}
	if err := naive(srv2.URL, rows, 16); err != nil {
		return err
	}
	n := e2.Stats().Total
	fmt.Fprintf(w, "| calls, naive per-row (query + write) | %d calls = %.2f × ⌈ids/30⌉+changes (%d) | for comparison |\n", n, float64(n)/float64(minimum), minimum)
	return nil
}

// naive is the per-row implementation bulksync replaces: query one id,
// then write it, with the same concurrency.
func naive(url string, rows []csvmodel.Checked, conc int) error {
	api, err := client.New(client.Options{Endpoint: url, Token: client.StaticToken(token)})
	if err != nil {
		return err
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	sem := make(chan struct{}, conc)
	var firstErr atomic.Value
	for _, r := range rows {
		sem <- struct{}{}
		wg.Add(1)
		go func(row csvmodel.Row) {
			defer func() { <-sem; wg.Done() }()
			resp, err := api.QueryAssociations(ctx, sp, client.QueryRequest{Filters: client.QueryFilters{ExternalUserIDs: []string{row.ExternalUserID}}})
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			a := client.Association{ExternalUserID: row.ExternalUserID, AmazonID: row.AmazonID, AmazonIDType: row.AmazonIDType}
			switch {
			case len(resp.AccountAssociations) == 0:
				err = api.CreateAssociation(ctx, sp, a)
			case resp.AccountAssociations[0].AmazonID != row.AmazonID:
				err = api.UpdateAssociation(ctx, sp, a)
			}
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
			}
		}(r.Row)
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return err
	}
	return nil
}

// writeRun makes n creates through the shipped job and returns the
// achieved calls per second, with the pool's stats.
func writeRun(e *emulator.Emulator, url string, n int, cfg worker.Config) (float64, worker.Stats, error) {
	file, _, err := hotel(e, n, 1) // every row a change
	if err != nil {
		return 0, worker.Stats{}, err
	}
	defer os.Remove(file)
	start := time.Now()
	_, pool, err := syncJob(url, file, cfg)
	if err != nil {
		return 0, worker.Stats{}, err
	}
	d := time.Since(start)
	s := pool.Stats()
	total := 0
	for _, v := range s.Calls {
		total += v
	}
	return float64(total) / d.Seconds(), s, nil
}

func saturation(w io.Writer, c config) error {
	e, srv, err := server(emulator.Options{Latency: 20 * time.Millisecond})
	if err != nil {
		return err
	}
	defer srv.Close()
	const rps = 500
	// Burst 1: no credit from the idle start, so the figure is the paced rate.
	got, _, err := writeRun(e, srv.URL, c.rateCalls, worker.Config{RPS: rps, Burst: 1, Concurrency: 32})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "| rate at saturation, --rps %d --burst 1, latency 20 ms, %d rows | %.0f calls/s = %.3f × --rps | ≥ 0.97 |\n", rps, c.rateCalls, got, got/rps)
	return nil
}

func throttled(w io.Writer, c config) error {
	const clientRPS, serverRPS = 250.0, 50.0
	e, srv, err := server(emulator.Options{RPS: serverRPS})
	if err != nil {
		return err
	}
	defer srv.Close()
	file, _, err := hotel(e, c.throttledCalls, 1)
	if err != nil {
		return err
	}
	defer os.Remove(file)
	start := time.Now()
	if _, _, err := syncJob(srv.URL, file, worker.Config{RPS: clientRPS, Concurrency: 8, MaxAttempts: 20, MaxRetryAfter: 2 * time.Second}); err != nil {
		return err
	}
	d := time.Since(start)
	st := e.Stats()
	good := 0
	total := st.Total
	for _, m := range st.Calls {
		for status, n := range m {
			if status == "200" || status == "201" {
				good += n
			}
		}
	}
	throttled := total - good
	fmt.Fprintf(w, "| throttled, server limit %.0f/s, --rps %.0f | goodput %.1f/s = %.3f × the limit; %.1f%% of calls answered 429 | ≥ 0.90, ≤ 5%% |\n",
		serverRPS, clientRPS, float64(good)/d.Seconds(), float64(good)/d.Seconds()/serverRPS, 100*float64(throttled)/float64(total))
	return nil
}

func overhead(w io.Writer, c config) error {
	const conc = 8
	e, srv, err := server(emulator.Options{})
	if err != nil {
		return err
	}
	defer srv.Close()
	got, _, err := writeRun(e, srv.URL, c.overheadCalls, worker.Config{RPS: 1e9, Concurrency: conc})
	if err != nil {
		return err
	}
	// The same creates, from a bare net/http loop with the same concurrency.
	_, srv2, err := server(emulator.Options{})
	if err != nil {
		return err
	}
	defer srv2.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	url := srv2.URL + "/v1/communications/serviceProviders/" + sp + "/externalUsers"
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < conc; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(c.overheadCalls) {
					return
				}
				body := fmt.Sprintf(`{"externalUserId":"%d","amazonId":"amzn1.x","amazonIdType":"communication-profile"}`, i)
				req, _ := http.NewRequest("POST", url, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	bare := float64(c.overheadCalls) / time.Since(start).Seconds()
	fmt.Fprintf(w, "| overhead, latency 0, concurrency %d, %d creates | %.0f calls/s vs bare net/http %.0f calls/s = %.2f | ≥ 0.8 |\n",
		conc, c.overheadCalls, got, bare, got/bare)
	return nil
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
