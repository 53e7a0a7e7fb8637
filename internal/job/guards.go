package job

import (
	"fmt"
	"strings"

	"github.com/bulksync/bulksync/internal/csvmodel"
	"github.com/bulksync/bulksync/internal/reconcile"
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
