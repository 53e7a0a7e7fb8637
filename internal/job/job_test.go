package job

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/bulksync/bulksync/internal/csvmodel"
	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/bulksync/bulksync/internal/report"
	"github.com/bulksync/bulksync/internal/worker"
	"github.com/rs/zerolog"
)

func TestVerdictOf(t *testing.T) {
	tests := []struct {
		err  error
		want Verdict
	}{
		{nil, Clean},
		{usage("no FILE given"), Usage},
		{&csvmodel.FileError{File: "rooms.csv", Msg: "file is empty"}, Usage},
		{fmt.Errorf("%w: 1 invalid row", reconcile.ErrStrict), Usage},
		{reconcile.ErrEmpty, Aborted},
		{&reconcile.GuardError{Group: "p"}, Aborted},
		{fmt.Errorf("%w: changed", reconcile.ErrStale), Aborted},
		{fmt.Errorf("%w: 403", worker.ErrAuth), Aborted},
		// Refused credentials are decided once, by the worker: an answer is
		// a row's failure until the worker says the run must stop.
		{fmt.Errorf("%w: %w", worker.ErrAuth, &client.APIError{Status: 401}), Aborted},
		{&client.APIError{Status: 401}, RowsFailed},
		{fmt.Errorf("stopped: %w", context.Canceled), Interrupted},
		{errors.New("report: disk full"), RowsFailed},
		{&OutputError{What: "report", Path: "-", Err: errors.New("broken pipe")}, OutputLost},
		// An output that failed wins over how the run itself ended: its
		// record is not whole.
		{errors.Join(fmt.Errorf("stopped: %w", context.Canceled), &OutputError{What: "summary", Err: errors.New("disk full")}), OutputLost},
	}
	for _, tt := range tests {
		if got := VerdictOf(tt.err); got != tt.want {
			t.Errorf("VerdictOf(%v): got %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestRoomRecord(t *testing.T) {
	sp := rooms(&Session{}, Options{IO: IO{Log: testLog()}})
	if h := report.Header[roomReport](); strings.Join(h, ",") != "file,line,service_provider_id,external_user_id,amazon_id,amazon_id_type,previous_amazon_id,action,outcome,http_status,error_type,error_message,attempts,duration_ms,unit_id,profile" {
		t.Errorf("header: %v", h)
	}
	row := roomRow(csvmodel.Checked{Row: csvmodel.Row{File: "rooms.csv", Line: 3, ServiceProviderID: "p", ExternalUserID: "7201",
		AmazonID: "amzn1.new", AmazonIDType: "communication-profile", Action: csvmodel.ActionUpsert}})
	prev := reconcile.Profile{AmazonID: "amzn1.old"}
	got := cells(t, sp.row(reconcile.Fate[reconcile.Profile]{Row: row, Prev: &prev, Action: reconcile.ActUpdate, Outcome: reconcile.Updated, Status: 200, Attempts: 1}))
	if got != "rooms.csv|3|p|7201|amzn1.new|communication-profile|amzn1.old|update|updated|200|||1|0||" {
		t.Errorf("record: %v", got)
	}
	pruned := cells(t, sp.row(reconcile.Fate[reconcile.Profile]{Row: reconcile.Row[reconcile.Profile]{Key: reconcile.Key{Group: "p", ID: "9"}, Delete: true},
		Prev: &prev, Action: reconcile.ActDelete, Outcome: reconcile.Skipped, ErrType: "SKIPPED", ErrMsg: "not attempted"}))
	if pruned != "||p|9|||amzn1.old|delete|skipped||SKIPPED|not attempted|0|0||" {
		t.Errorf("pruned record: %v", pruned)
	}
	for status, want := range map[csvmodel.Status]reconcile.Outcome{csvmodel.Valid: reconcile.Valid, csvmodel.Duplicate: reconcile.Duplicate, csvmodel.Invalid: reconcile.Invalid} {
		if got := roomRow(csvmodel.Checked{Status: status}).Verdict; got != want {
			t.Errorf("status %v: verdict %v, want %v", status, got, want)
		}
	}
	del := roomRow(csvmodel.Checked{Row: csvmodel.Row{Action: csvmodel.ActionDelete}})
	if !del.Delete {
		t.Errorf("a delete row must ask for a delete")
	}
	if msg := sp.check(reconcile.Write[reconcile.Profile]{Key: reconcile.Key{Group: "p", ID: "1"}, Action: reconcile.ActCreate}); !strings.Contains(msg, "amazonId is required") {
		t.Errorf("a saved write with no amazonId: %q", msg)
	}
}

func testLog() zerolog.Logger { return zerolog.Nop() }

// cells is a report row as the report writes it, cells joined by "|".
func cells[R any](t *testing.T, row R) string {
	t.Helper()
	var buf bytes.Buffer
	w, err := report.NewWriter[R](&buf, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(row)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("report of one row: %q, %v", recs, err)
	}
	return strings.Join(recs[1], "|")
}
