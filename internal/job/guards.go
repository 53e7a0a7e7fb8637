package job

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"reflect"
	"strings"

	"github.com/bulksync/bulksync/internal/csvmodel"
	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/bulksync/bulksync/internal/report"
	"github.com/bulksync/bulksync/internal/secret"
	"github.com/bulksync/bulksync/internal/storage"
)

// appliedLimit is the delete guard a saved plan is applied under: the
// stricter of the limit the plan records and the one the command line
// gives (or the default). The file is not signed, so nothing proves its
// limit is the one it was reviewed under: alone it may only tighten the
// guard, never loosen it. A plan reviewed under a looser limit is applied
// with that limit given again (sync --plan FILE --max-deletes N).
func appliedLimit(reviewed, given reconcile.Limit) reconcile.Limit {
	return reviewed.Stricter(given)
}

// checkRoom says why a write of a room association could not have come
// from a valid input row ("" when it could): its ids as the reader leaves
// them (trimmed), and the row checks of an input row. A saved plan and an
// undo's report are files anyone may edit.
func checkRoom(k reconcile.Key, want reconcile.Profile, del bool) string {
	row := csvmodel.Row{ServiceProviderID: k.Group, ExternalUserID: k.ID, AmazonID: want.AmazonID,
		AmazonIDType: want.AmazonIDType, UnitID: want.UnitID, Action: csvmodel.ActionUpsert}
	if del {
		row = csvmodel.Row{ServiceProviderID: k.Group, ExternalUserID: k.ID, Action: csvmodel.ActionDelete}
	}
	for _, f := range []struct{ name, v string }{{"serviceProviderId", row.ServiceProviderID}, {"externalUserId", row.ExternalUserID},
		{"amazonId", row.AmazonID}, {"amazonIdType", row.AmazonIDType}, {"unitId", row.UnitID}} {
		if f.v != strings.TrimSpace(f.v) {
			return fmt.Sprintf("%s %q has spaces at its ends, which no input row keeps (values are trimmed)", f.name, f.v)
		}
	}
	return csvmodel.Check(row)
}

// checkListedRoom says why an association the API listed could not be an
// input row's, or "": its provider and externalUserId checked as a delete
// row's are.
func checkListedRoom(k reconcile.Key) string {
	if k.ID != strings.TrimSpace(k.ID) {
		return fmt.Sprintf("externalUserId %q has spaces at its ends, which no input row keeps", k.ID)
	}
	return csvmodel.Check(csvmodel.Row{ServiceProviderID: k.Group, ExternalUserID: k.ID, Action: csvmodel.ActionDelete})
}

// checkOutputs refuses two outputs on standard output: a report and a
// summary interleaved there could be read as neither.
func checkOutputs(o Options) error {
	if o.Report == "-" && o.Summary == "-" {
		return usage("--report - and --summary - both write to standard output: send one of them to a file")
	}
	return nil
}

// rowsVerdict is the verdict of a run that went to its end, by its rows. A
// plan's changes, with --detailed-exitcode, win over refused or failed
// rows: what the plan answers is "a sync would write", which an invalid row
// does not change (sync writes the valid rows all the same), and the rows
// are in the report and the summary. Exit 1 or 7 would hide the writes due.
// Otherwise a row that failed transiently (a rerun may fix it) wins over
// one refused for good.
func rowsVerdict(counts reconcile.Counts, transient, leftAlone int64, detailed bool) Verdict {
	switch {
	case detailed && counts[reconcile.Planned] > 0:
		return Changes
	case transient > 0:
		return RowsFailed
	case counts[reconcile.Invalid]+counts[reconcile.Failed] > 0, leftAlone > 0:
		return Refused
	}
	return Clean
}

// cleanText is text from a run, from wherever it came, as it may be
// written out: every secret scrubbed, terminal controls escaped.
func cleanText(s string, secrets *secret.Scrubber) string {
	return secret.Printable(secrets.String(s))
}

// cleanRow is a report row with every text cell cleaned (cleanText): the
// API's messages, and the ids and values it listed, reach the report only
// this way.
func cleanRow[R any](r R, secrets *secret.Scrubber) R {
	cleanFields(reflect.ValueOf(&r).Elem(), secrets)
	return r
}

func cleanFields(v reflect.Value, secrets *secret.Scrubber) {
	for i := range v.NumField() {
		switch f := v.Field(i); {
		case !f.CanSet():
		case f.Kind() == reflect.String:
			f.SetString(cleanText(f.String(), secrets))
		case f.Kind() == reflect.Struct:
			cleanFields(f, secrets)
		}
	}
}

// writeSummary writes the JSON summary where --summary says: the output
// opened for it at the start, or standard output for "-".
func (e *ending) writeSummary(ctx context.Context, sum report.Summary) error {
	if e.sumStdout {
		return sum.WriteJSON(e.o.IO.Stdout)
	}
	return writeSummary(ctx, e.summary, sum)
}

// KnownSecrets are the secrets a process holds before it reads any
// credential: those of the URLs its arguments and environment name (a
// Pushgateway's, an SFTP server's password), and the storage credentials
// of its environment. The credentials of the API are told as they are
// read (Open).
func KnownSecrets(args []string, env map[string]string) []string {
	out := storage.Secrets(envFunc(env))
	for _, v := range args {
		out = append(out, urlSecrets(v)...)
	}
	for _, v := range env {
		out = append(out, urlSecrets(v)...)
	}
	return out
}

// urlSecrets are the secrets a URL carries (https://user:pass@host): its
// password, and the Basic Authorization value it is sent as, which a
// server may echo.
func urlSecrets(raw string) []string {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw // as the Pushgateway's URL is read
	}
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return nil
	}
	pw, ok := u.User.Password()
	if !ok {
		return nil
	}
	return []string{pw, base64.StdEncoding.EncodeToString([]byte(u.User.Username() + ":" + pw))}
}
