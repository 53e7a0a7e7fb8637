package reconcile

import (
	"sort"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/bulksync/bulksync/internal/csvmodel"
	"github.com/bulksync/bulksync/internal/report"
	"github.com/bulksync/bulksync/internal/worker"
)

// listAll learns, for --prune, every association of each provider by
// listing it. Pruning needs the ids no input row names, which only a listing
// shows. The listing is also never dearer than the 30-id queries: its first
// page's totalCount T and page size P put it at ceil(T/P) calls, while the
// queries cost at least one call per batch and one page per P ids found, so
// at least as much when every association is named, and they would still
// need the listing to find the others.
func (r *run) listAll(batches []*batch) []*batch {
	byProvider := map[string][]*batch{}
	var order []string
	for _, b := range batches {
		if byProvider[b.provider] == nil {
			order = append(order, b.provider)
		}
		byProvider[b.provider] = append(byProvider[b.provider], b)
	}
	var out []*batch
	for _, p := range order {
		remote, _, err := r.read(p, nil)
		out = append(out, r.merged(p, byProvider[p], remote, err))
	}
	return out
}

// merged replaces a provider's batches by one answered by the listing (or
// failed with err).
func (r *run) merged(p string, bs []*batch, remote map[string]client.Association, err error) *batch {
	m := &batch{provider: p, listed: remote, err: err, total: len(remote)}
	for _, b := range bs {
		m.items = append(m.items, b.items...)
	}
	r.pending -= len(bs) - 1
	return m
}

// prune adds a delete for every association of p that no input row names,
// once every answer for p is in.
func (r *run) prune(p string, st *providerState, remote map[string]client.Association) {
	ids := make([]string, 0, len(remote))
	for id := range remote {
		if !st.named[id] && r.Opts.Shard.Has(p, id) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		a := remote[id]
		it := &item{row: csvmodel.Row{ServiceProviderID: p, ExternalUserID: id, Action: csvmodel.ActionDelete},
			prev: &a, action: report.ActDelete}
		r.prunedItems = append(r.prunedItems, it)
		if r.Opts.DryRun {
			r.emit(it, r.resultRow(it, it.action, report.Planned, 0, worker.Result{}))
			r.plan(it)
			continue
		}
		st.deletes++
		r.held = append(r.held, it)
	}
}

// plan hands a dry run's write to Planned.
func (r *run) plan(it *item) {
	if r.Planned == nil {
		return
	}
	w := Write{Provider: it.row.ServiceProviderID, ExternalUserID: it.row.ExternalUserID, Action: it.action,
		File: it.row.File, Line: it.row.Line, Before: it.prev}
	if it.action != report.ActDelete {
		w.AmazonID, w.AmazonIDType = it.row.AmazonID, it.row.AmazonIDType
	}
	r.Planned(w)
}
