package reconcile

import (
	"context"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/bulksync/bulksync/internal/worker"
)

var (
	err500 = &client.APIError{Status: 500, Type: "INTERNAL_SERVER_ERROR", Message: "oops"}
	err400 = &client.APIError{Status: 400, Type: "BAD_REQUEST", Message: "amazonId is not valid"}
	errOdd = &client.APIError{Status: 200, Unexpected: true, Message: "answered 200 where the operation documents 201"}
)

// Each case is one write against a scripted server; want is the outcome,
// the deciding status and the calls it took.
func TestApplyFollowsAnswersToTheTruth(t *testing.T) {
	k := Key{"g", "7201"}
	tests := []struct {
		name     string
		have     map[Key]string
		script   map[string][]scripted
		action   Action
		attempts int
		outcome  Outcome
		status   int
		calls    string
		final    string // what the fake holds for k afterwards ("" absent)
		errType  string
	}{
		{"create", nil, nil, ActCreate, 3, Created, 201, "create g/7201", "new", ""},
		{"update", map[Key]string{k: "old"}, nil, ActUpdate, 3, Updated, 200, "update g/7201", "new", ""},
		{"delete", map[Key]string{k: "old"}, nil, ActDelete, 3, Deleted, 200, "delete g/7201", "", ""},
		{"delete of what is gone is done", nil, nil, ActDelete, 3, Deleted, 404, "delete g/7201", "", ""},
		{"update answered 404 becomes a create", nil, nil, ActUpdate, 3, Created, 201,
			"update g/7201|create g/7201", "new", ""},
		{"create answered 409, the same value: someone made it", map[Key]string{k: "new"}, nil, ActCreate, 3,
			Unchanged, 409, `create g/7201|read g [7201] ""`, "new", ""},
		{"create answered 409 after our own 500: ours", nil, map[string][]scripted{"create g/7201": {{err500, true}}},
			ActCreate, 3, Created, 409, `create g/7201|create g/7201|read g [7201] ""`, "new", ""},
		{"create answered 409, another value: update", map[Key]string{k: "other"}, nil, ActCreate, 3,
			Updated, 200, `create g/7201|read g [7201] ""|update g/7201`, "new", ""},
		{"create answered 409, gone on re-read: create again", nil,
			map[string][]scripted{"create g/7201": {{&client.APIError{Status: 409}, false}}}, ActCreate, 3,
			Created, 201, `create g/7201|read g [7201] ""|create g/7201`, "new", ""},
		{"refused: failed with the API's type", nil, map[string][]scripted{"create g/7201": {{err400, false}}},
			ActCreate, 3, Failed, 400, "create g/7201", "", "BAD_REQUEST"},
		{"5xx to the end, but applied: a re-read settles it", nil,
			map[string][]scripted{"create g/7201": {{err500, true}}}, ActCreate, 1, Created, 500,
			`create g/7201|read g [7201] ""`, "new", ""},
		{"5xx to the end, not applied: failed", nil,
			map[string][]scripted{"create g/7201": {{err500, false}}}, ActCreate, 1, Failed, 500,
			`create g/7201|read g [7201] ""`, "", "INTERNAL_SERVER_ERROR"},
		{"an undocumented success is retried, never trusted", nil,
			map[string][]scripted{"create g/7201": {{errOdd, false}}}, ActCreate, 3, Created, 201,
			"create g/7201|create g/7201", "new", ""},
		{"an undocumented success to the end: re-read says absent", nil,
			map[string][]scripted{"create g/7201": {{errOdd, false}}}, ActCreate, 1, Failed, 200,
			`create g/7201|read g [7201] ""`, "", "UNEXPECTED_ANSWER"},
		{"re-read fails: failed with its error", map[Key]string{k: "new"},
			map[string][]scripted{"read g": {{err400, false}}}, ActCreate, 3, Failed, 400,
			`create g/7201|read g [7201] ""`, "new", "BAD_REQUEST"},
		{"the API keeps changing: gave up", nil, map[string][]scripted{
			"create g/7201": {{&client.APIError{Status: 409}, false}, {&client.APIError{Status: 409}, false}, {&client.APIError{Status: 409}, false}, {&client.APIError{Status: 409}, false}}},
			ActCreate, 3, Failed, 0, "", "", "ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(tt.have)
			f.script = tt.script
			if f.script == nil {
				f.script = map[string][]scripted{}
			}
			s := (&Engine[string]{Res: f, Caller: testCaller(tt.attempts)}).newSched()
			a := s.app.apply(context.Background(), Row[string]{Key: k, Want: "new"}, tt.action)
			if a.outcome != tt.outcome || a.status != tt.status {
				t.Errorf("got %v %d (%v), want %v %d", a.outcome, a.status, a.err, tt.outcome, tt.status)
			}
			if got := strings.Join(f.calls, "|"); tt.calls != "" && got != tt.calls {
				t.Errorf("calls:\n got %s\nwant %s", got, tt.calls)
			}
			if got := f.have[k]; got != tt.final {
				t.Errorf("final: got %q, want %q", got, tt.final)
			}
			if tt.errType != "" {
				if got := worker.Classify(a.err).Type; got != tt.errType {
					t.Errorf("error type: got %q (%v), want %q", got, a.err, tt.errType)
				}
			}
		})
	}
}

func TestApplyInterruptedBeforeSending(t *testing.T) {
	f := newFake(nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := (&Engine[string]{Res: f, Caller: testCaller(3)}).newSched()
	a := s.app.apply(ctx, Row[string]{Key: Key{"g", "1"}, Want: "new"}, ActCreate)
	if a.outcome != Skipped || len(f.calls) != 0 {
		t.Errorf("got %v after %d calls, want skipped after none", a.outcome, len(f.calls))
	}
}

func TestApplyRefusesAnUnknownAction(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "no write for action none") {
			t.Errorf("got %v, want a panic naming the action", r)
		}
	}()
	s := (&Engine[string]{Res: newFake(nil), Caller: testCaller(1)}).newSched()
	s.app.apply(context.Background(), Row[string]{Key: Key{"g", "1"}, Want: "x"}, ActNone)
}
