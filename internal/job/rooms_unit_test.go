package job

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/internal/csvmodel"
	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/bulksync/bulksync/internal/report"
	"github.com/bulksync/bulksync/internal/storage"
)

// The CSV's unit and name reach the resolver, and the report shows the
// unit and how its profile was resolved in the last two columns.
func TestRoomRowCarriesTheUnit(t *testing.T) {
	r := roomRow(csvmodel.Checked{Row: csvmodel.Row{File: "rooms.csv", Line: 2, ServiceProviderID: "p", ExternalUserID: "7201",
		AmazonIDType: "communication-profile", Action: csvmodel.ActionUpsert, UnitID: uNone, Name: "Room 1"}})
	if r.Want.UnitID != uNone || r.Want.Name != "Room 1" {
		t.Fatalf("row: %+v", r.Want)
	}
	r.Want.AmazonID, r.Want.Resolution = "amzn1.new", ProfileCreated
	got := cells(t, rooms(&Session{}, Options{IO: IO{Log: testLog()}}).row(reconcile.Fate[reconcile.Profile]{Row: r, Action: reconcile.ActCreate, Outcome: reconcile.Created, Status: 201, Attempts: 1}))
	if want := "rooms.csv|2|p|7201|amzn1.new|communication-profile||create|created|201|||1|0|" + uNone + "|created"; got != want {
		t.Errorf("record:\n got %s\nwant %s", got, want)
	}
}

// An input whose first pass saw no unitId is not ranged again to look for
// one: rooms files of amazonIds cost no extra pass.
func TestNoUnitsNoPass(t *testing.T) {
	for _, noUnits := range []bool{true, false} {
		ranged := 0
		rows := func(yield func(row, error) bool) {
			ranged++
			yield(row{Key: reconcile.Key{Group: "p", ID: "1"}, Want: reconcile.Profile{AmazonID: "amzn1.p"}}, nil)
		}
		r := &resolver{noUnits: noUnits, log: testLog()}
		if _, err := r.prepare(context.Background(), rows); err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: 0, false: 1}[noUnits]; ranged != want {
			t.Errorf("noUnits %v: the rows were ranged %d times, want %d", noUnits, ranged, want)
		}
	}
}

// A rooms report is refused as input, also one written before the unit
// columns were appended.
func TestReportsBeforeAndAfterTheUnitColumns(t *testing.T) {
	dir := t.TempDir()
	for i, header := range [][]string{report.Header[roomReport](), report.Header[roomReport]()[:14]} {
		path := filepath.Join(dir, fmt.Sprintf("report%d.csv", i))
		if err := os.WriteFile(path, []byte(strings.Join(header, ",")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := readInput(context.Background(), storage.New(storage.Options{}), Input{Files: []string{path}, DefaultProvider: "amzn1.comms.csp.id.demo"}, IO{Log: testLog()}, false, nil); err == nil ||
			!strings.Contains(err.Error(), "this is a bulksync report") {
			t.Errorf("%d columns: got %v, want the report refused", len(header), err)
		}
	}
}
