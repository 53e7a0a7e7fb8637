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
	"bufio"
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
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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
	runs                                           int     // of the throttled and overhead measures: the median is shown
	throttledLimit                                 float64 // the server's limit in the throttled runs
	only                                           string
	shape                                          string // of the throttled measure: only shapes whose name holds it
}

func main() {
	if len(os.Args) == 4 && os.Args[1] == "-input-child" {
		os.Exit(inputChild(os.Args[2], os.Args[3]))
	}
	quick := flag.Bool("quick", false, "tiny sizes: a smoke run, not a measurement")
	c := config{}
	flag.IntVar(&c.rows, "rows", 10000, "rows of the call-count run (30% of them changes)")
	flag.IntVar(&c.rateCalls, "rate-calls", 3000, "calls of the saturation run")
	flag.IntVar(&c.throttledCalls, "throttled-calls", 480, "creates of each throttled run (the changing limit's run makes 1.5 times as many)")
	flag.Float64Var(&c.throttledLimit, "throttled-limit", 30, "the server's limit in calls/s in the throttled runs; the client's --rps is five times it")
	flag.IntVar(&c.runs, "runs", 1, "runs of each throttled and overhead measure; the median is shown")
	flag.IntVar(&c.overheadCalls, "overhead-calls", 20000, "calls of the overhead run")
	inputRows := flag.String("input-rows", "100000,1000000", "sizes of the input runs (floor, validate, plan), comma-separated")
	only := flag.String("only", "", "run one measure: calls, rate, throttled, overhead or input")
	flag.StringVar(&c.shape, "shape", "", "run only the throttled shapes whose name holds this, e.g. \"burst 1\"")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the run here")
	memprofile := flag.String("memprofile", "", "write an allocation profile of the run here")
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
		c = config{rows: 300, rateCalls: 100, throttledCalls: 60, throttledLimit: 300, overheadCalls: 300, inputRows: []int{5000}, runs: 1, only: c.only, shape: c.shape}
	}
	if *memprofile != "" {
		defer func() {
			if f, err := os.Create(*memprofile); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	if err := bench(os.Stdout, c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func bench(w io.Writer, c config) error {
	c.runs = max(c.runs, 1)
	if c.throttledLimit <= 0 {
		c.throttledLimit = 30
	}
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
// the emulator at url, with the report written to a temporary file; its
// calls go through caller, which the throttled runs watch.
func syncJob(url, file string, caller *worker.Caller) (job.Result, error) {
	api, err := client.New(client.Options{Endpoint: url, Token: client.StaticToken(token),
		HTTPClient: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}})
	if err != nil {
		return job.Result{}, err
	}
	rep, err := os.CreateTemp("", "bench-report-*.csv")
	if err != nil {
		return job.Result{}, err
	}
	rep.Close()
	defer os.Remove(rep.Name())
	res, err := job.Run(context.Background(), &job.Session{API: api, Caller: caller},
		job.Options{Command: "sync", Input: job.Input{Files: []string{file}, DefaultProvider: sp},
			MaxDeletes: &reconcile.Limit{None: true}, Report: rep.Name(), Progress: "off", IO: quiet()})
	if err == nil && res.Verdict != job.Clean {
		err = fmt.Errorf("run ended %v: %s", res.Verdict, res.Summary.Message)
	}
	return res, err
}

// quiet is a job's IO that prints and logs nothing.
func quiet() job.IO {
	return job.IO{Stdout: io.Discard, Stderr: io.Discard, Log: zerolog.Nop()}
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
		if _, err := syncJob(srv.URL, file, worker.New(worker.Config{RPS: 1e6, Concurrency: 16})); err != nil {
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
	pool := worker.New(cfg)
	_, err = syncJob(url, file, pool)
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

// A server shape is one reading of the API's limit that its pages allow:
// how much it lets through at once, whether a 429 says when to come back,
// and whether the limit changes during a run.
type serverShape struct {
	name     string
	o        emulator.Options
	calls    int     // creates; 0: the configured number
	rps      float64 // the client's --rps; 0: five times the limit
	burst    int     // the client's --burst; 0: its default
	schedule []emulator.Step
}

// shapes are the rows of issue 17's table, against a limit of 30 calls/s.
func shapes(c config) []serverShape {
	limit := c.throttledLimit
	half := []emulator.Step{{At: 6 * time.Second, RPS: limit / 2}, {At: 12 * time.Second, RPS: limit}}
	return []serverShape{
		{name: "token bucket, burst = limit, Retry-After 1", o: emulator.Options{RPS: limit}},
		{name: "burst 3, Retry-After 1", o: emulator.Options{RPS: limit, Burst: 3}},
		{name: "burst 3, no Retry-After", o: emulator.Options{RPS: limit, Burst: 3, NoRetryAfter: true}},
		{name: "burst 1, Retry-After 1", o: emulator.Options{RPS: limit, Burst: 1}},
		{name: "burst 1, Retry-After 1, client --rps limit-1 --burst 1", o: emulator.Options{RPS: limit, Burst: 1}, rps: limit - 1, burst: 1},
		// More calls, so the run outlasts the limit's return by ten seconds.
		{name: "burst 3, limit halves at 6 s and comes back at 12 s", o: emulator.Options{RPS: limit, Burst: 3,
			RPSSchedule: fmt.Sprintf("6s:%g,12s:%g", limit/2, limit)}, calls: c.throttledCalls * 3 / 2, schedule: half},
	}
}

// throttledRun is one run of the shipped job against one server shape.
type throttledRun struct {
	goodput  float64 // accepted calls per second over the mean limit
	rate     float64 // accepted calls per second
	share429 float64 // of all answers
	down, up float64 // seconds the pacing took to follow a changed limit; -1: never
}

func throttled(w io.Writer, c config) error {
	for _, sh := range shapes(c) {
		if !strings.Contains(sh.name, c.shape) {
			continue
		}
		var runs []throttledRun
		for range c.runs {
			r, err := throttledOnce(c, sh)
			if err != nil {
				return fmt.Errorf("%s: %w", sh.name, err)
			}
			runs = append(runs, r)
		}
		rps := sh.rps
		if rps == 0 {
			rps = 5 * c.throttledLimit
		}
		calls := sh.calls
		if calls == 0 {
			calls = c.throttledCalls
		}
		g := median(runs, func(r throttledRun) float64 { return r.goodput })
		fig := fmt.Sprintf("goodput %.1f/s = %.3f × the limit; %.1f%% of calls answered 429",
			median(runs, func(r throttledRun) float64 { return r.rate }).mid, g.mid, 100*median(runs, func(r throttledRun) float64 { return r.share429 }).mid)
		if c.runs > 1 {
			fig += fmt.Sprintf(" (median of %d runs; goodput %.3f–%.3f)", c.runs, g.lo, g.hi)
		}
		target := "≥ 0.95, ≤ 3%"
		if sh.schedule != nil {
			fig += fmt.Sprintf("; pacing followed the limit down (to within 10%%) in %s, back up (to 0.9 × the limit) in %s",
				secs(median(runs, func(r throttledRun) float64 { return r.down }).mid), secs(median(runs, func(r throttledRun) float64 { return r.up }).mid))
			target += "; down ≤ 2 s, up ≤ 10 s"
		}
		fmt.Fprintf(w, "| throttled: %s (limit %g/s, --rps %g, %d creates, 16 in flight, latency 20 ms) | %s | %s |\n",
			sh.name, c.throttledLimit, rps, calls, fig, target)
	}
	// What no controller can beat on this machine: a strict server refuses a
	// call that arrives a hair early, so arrival jitter sets the ceiling.
	fixed := 0.983 * c.throttledLimit
	var runs []throttledRun
	for range c.runs {
		r, err := fixedPacing(c, fixed)
		if err != nil {
			return fmt.Errorf("fixed pacing: %w", err)
		}
		runs = append(runs, r)
	}
	fmt.Fprintf(w, "| throttled: burst 1, a bare loop paced at a fixed %.1f/s (for comparison: the ceiling arrival jitter leaves) | goodput %.3f × the limit; %.1f%% of calls answered 429 | for comparison |\n",
		fixed, median(runs, func(r throttledRun) float64 { return r.goodput }).mid, 100*median(runs, func(r throttledRun) float64 { return r.share429 }).mid)
	return nil
}

// fixedPacing sends creates at a fixed rate from a bare net/http loop to a
// strict server (burst 1), sending each refused one again at a later tick.
func fixedPacing(c config, rps float64) (throttledRun, error) {
	e, srv, err := server(emulator.Options{RPS: c.throttledLimit, Burst: 1, Latency: 20 * time.Millisecond})
	if err != nil {
		return throttledRun{}, err
	}
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	url := srv.URL + "/v1/communications/serviceProviders/" + sp + "/externalUsers"
	todo := make(chan int, c.throttledCalls)
	for i := range c.throttledCalls {
		todo <- i
	}
	var done atomic.Int64
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Duration(float64(time.Second) / rps))
	defer tick.Stop()
	start := time.Now()
	for done.Load() < int64(c.throttledCalls) {
		<-tick.C
		var i int
		select {
		case i = <-todo:
		default:
			continue // every call is in flight
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"externalUserId":"%d","amazonId":"amzn1.x","amazonIdType":"communication-profile"}`, i)
			req, _ := http.NewRequest("POST", url, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := hc.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if err != nil || resp.StatusCode != http.StatusCreated {
				todo <- i
				return
			}
			done.Add(1)
		}()
	}
	d := time.Since(start)
	wg.Wait()
	st := e.Stats()
	refused := st.Count("association.create", "429")
	return throttledRun{goodput: float64(c.throttledCalls) / d.Seconds() / c.throttledLimit, share429: float64(refused) / float64(st.Total)}, nil
}

func throttledOnce(c config, sh serverShape) (throttledRun, error) {
	var first atomic.Int64 // when the first call was answered: the schedule's origin
	o := sh.o
	o.Latency = 20 * time.Millisecond
	o.OnAnswer = func(string, string) { first.CompareAndSwap(0, time.Now().UnixNano()) }
	e, srv, err := server(o)
	if err != nil {
		return throttledRun{}, err
	}
	defer srv.Close()
	calls := sh.calls
	if calls == 0 {
		calls = c.throttledCalls
	}
	file, _, err := hotel(e, calls, 1)
	if err != nil {
		return throttledRun{}, err
	}
	defer os.Remove(file)
	rps := sh.rps
	if rps == 0 {
		rps = 5 * c.throttledLimit
	}
	pool := worker.New(worker.Config{RPS: rps, Burst: sh.burst, Concurrency: 16})
	// The pacing rate, sampled: how fast it follows a limit that changes.
	type sample struct {
		at   time.Time
		rate float64
	}
	var samples []sample
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				samples = append(samples, sample{now, pool.Pacing()})
			}
		}
	}()
	start := time.Now()
	_, err = syncJob(srv.URL, file, pool)
	d := time.Since(start)
	close(stop)
	<-sampled
	if err != nil {
		return throttledRun{}, err
	}
	st := e.Stats()
	good := 0
	for _, m := range st.Calls {
		for status, n := range m {
			if strings.HasPrefix(status, "2") {
				good += n
			}
		}
	}
	refused := 0
	for _, m := range st.Calls {
		refused += m["429"]
	}
	// The limit the run was allowed on average, from the first call on.
	origin := time.Unix(0, first.Load())
	span := start.Add(d).Sub(origin)
	allowed, prev, at := 0.0, c.throttledLimit, time.Duration(0)
	for _, s := range sh.schedule {
		if s.At >= span {
			break
		}
		allowed += prev * (s.At - at).Seconds()
		prev, at = s.RPS, s.At
	}
	allowed += prev * (span - at).Seconds()
	r := throttledRun{rate: float64(good) / span.Seconds(), goodput: float64(good) / allowed,
		share429: float64(refused) / float64(st.Total), down: -1, up: -1}
	if len(sh.schedule) == 2 {
		drop, back := sh.schedule[0], sh.schedule[1]
		for _, s := range samples {
			off := s.at.Sub(origin)
			if r.down < 0 && off >= drop.At && s.rate <= 1.1*drop.RPS {
				r.down = (off - drop.At).Seconds()
			}
			if r.up < 0 && off >= back.At && s.rate >= 0.9*back.RPS {
				r.up = (off - back.At).Seconds()
			}
		}
	}
	return r, nil
}

type spread struct{ lo, mid, hi float64 }

// median of a figure over runs, with its range.
func median[T any](runs []T, f func(T) float64) spread {
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = f(r)
	}
	sort.Float64s(v)
	return spread{v[0], v[len(v)/2], v[len(v)-1]}
}

func secs(s float64) string {
	if s < 0 {
		return "never (within the run)"
	}
	return fmt.Sprintf("%.1f s", s)
}

// overhead compares calls/s through the shipped job with a bare net/http
// loop making the same calls (a 30-id query per 30 rows, then a create per
// row) against the in-process emulator, in alternating rounds. On a shared
// machine the wall clock swings with the neighbours' load, so it also
// compares the CPU time each call costs this process (client and emulator
// together): what the rate would be where the run had the machine to itself.
func overhead(w io.Writer, c config) error {
	const conc = 8
	type round struct{ pool, bare, wall, cpu float64 }
	var rounds []round
	for range c.runs {
		e, srv, err := server(emulator.Options{PageSize: 30})
		if err != nil {
			return err
		}
		file, err := export(c.overheadCalls)
		if err != nil {
			return err
		}
		runtime.GC()
		cpu0, start := cpuTime(), time.Now()
		pool := worker.New(worker.Config{RPS: 1e9, Concurrency: conc})
		_, err = syncJob(srv.URL, file, pool)
		d, cpu := time.Since(start), cpuTime()-cpu0
		srv.Close()
		os.Remove(file)
		if err != nil {
			return err
		}
		calls := e.Stats().Total
		r := round{pool: float64(calls) / d.Seconds()}
		poolCPU := cpu.Seconds() / float64(calls)

		runtime.GC()
		cpu0 = cpuTime()
		n, d, err := bareCalls(c.overheadCalls, conc)
		if err != nil {
			return err
		}
		r.bare = float64(n) / d.Seconds()
		r.wall, r.cpu = r.pool/r.bare, (cpuTime()-cpu0).Seconds()/float64(n)/poolCPU
		rounds = append(rounds, r)
	}
	wall := median(rounds, func(r round) float64 { return r.wall })
	cpu := median(rounds, func(r round) float64 { return r.cpu })
	fig := fmt.Sprintf("%.0f calls/s vs bare net/http %.0f calls/s = %.2f; CPU per call, bare / bulksync = %.2f",
		rounds[0].pool, rounds[0].bare, wall.mid, cpu.mid)
	if c.runs > 1 {
		fig = fmt.Sprintf("calls/s, bulksync / bare = %.2f (%.2f–%.2f); CPU per call, bare / bulksync = %.2f (%.2f–%.2f); median of %d alternating rounds",
			wall.mid, wall.lo, wall.hi, cpu.mid, cpu.lo, cpu.hi, c.runs)
	}
	fmt.Fprintf(w, "| overhead, latency 0, concurrency %d, %d rows (a query per 30, a create per row) | %s | ≥ 0.9 |\n", conc, c.overheadCalls, fig)
	return nil
}

// export writes an export of n rooms, none of which the emulator has yet.
func export(n int) (string, error) {
	f, err := os.CreateTemp("", "bench-*.csv")
	if err != nil {
		return "", err
	}
	defer f.Close()
	b := bufio.NewWriter(f)
	b.WriteString("externalUserId,amazonId\n")
	for i := range n {
		fmt.Fprintf(b, "%d,amzn1.alexa.communications.profile.did.%d\n", 100000+i, i)
	}
	return f.Name(), b.Flush()
}

// bareCalls makes what the job makes of export(n) from a bare net/http
// loop with conc in flight, against a fresh emulator: a query of 30 ids per
// 30 rows, then a create per row. It returns the calls and how long.
func bareCalls(n, conc int) (int, time.Duration, error) {
	_, srv, err := server(emulator.Options{PageSize: 30})
	if err != nil {
		return 0, 0, err
	}
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	base := srv.URL + "/v1/communications/serviceProviders/" + sp + "/externalUsers"
	queries := (n + 29) / 30
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= queries+n {
					return
				}
				url, body, want := base, "", http.StatusCreated
				if i < queries {
					ids := make([]string, 0, 30)
					for j := i * 30; j < min(n, i*30+30); j++ {
						ids = append(ids, fmt.Sprintf("%q", fmt.Sprint(100000+j)))
					}
					url, body, want = base+"/query", `{"filters":{"externalUserIds":[`+strings.Join(ids, ",")+`]}}`, http.StatusOK
				} else {
					j := i - queries
					body = fmt.Sprintf(`{"externalUserId":"%d","amazonId":"amzn1.alexa.communications.profile.did.%d","amazonIdType":"communication-profile"}`, 100000+j, j)
				}
				req, _ := http.NewRequest("POST", url, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(req)
				if err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want {
					failed.CompareAndSwap(nil, fmt.Errorf("bare call %d: %s", i, resp.Status))
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return 0, 0, err
	}
	return queries + n, time.Since(start), nil
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
