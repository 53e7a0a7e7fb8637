package reconcile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/bulksync/bulksync/internal/csvmodel"
	"github.com/bulksync/bulksync/internal/report"
)

// Write is one write of a saved plan and the state it was computed from.
type Write struct {
	Provider       string              `json:"serviceProviderId"`
	ExternalUserID string              `json:"externalUserId"`
	Action         string              `json:"action"` // create, update or delete
	AmazonID       string              `json:"amazonId,omitempty"`
	AmazonIDType   string              `json:"amazonIdType,omitempty"`
	Before         *client.Association `json:"before"` // null: absent when planned
	File           string              `json:"file,omitempty"`
	Line           int                 `json:"line,omitempty"`
}

// PlanFile is what plan --out saves and sync --plan applies.
type PlanFile struct {
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"createdAt"`
	Writes    []Write   `json:"writes"`
}

const planVersion = 1

// SavePlan writes the plan atomically, in a stable order.
func SavePlan(path string, writes []Write, now time.Time) error {
	sort.Slice(writes, func(i, j int) bool {
		a, b := writes[i], writes[j]
		if a.Provider != b.Provider {
			return a.Provider < b.Provider
		}
		return a.ExternalUserID < b.ExternalUserID
	})
	if writes == nil {
		writes = []Write{}
	}
	data, err := json.MarshalIndent(PlanFile{Version: planVersion, CreatedAt: now.UTC(), Writes: writes}, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".plan-*.json")
	if err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("save plan: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}

// LoadPlan reads and checks a saved plan.
func LoadPlan(path string) ([]Write, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", path, err)
	}
	var f PlanFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("plan %s: not a bulksync plan: %v", path, err)
	}
	if f.Version != planVersion {
		return nil, fmt.Errorf("plan %s: version %d, want %d", path, f.Version, planVersion)
	}
	seen := map[csvmodel.Key]bool{}
	for i, w := range f.Writes {
		row := csvmodel.Row{ServiceProviderID: w.Provider, ExternalUserID: w.ExternalUserID, AmazonID: w.AmazonID, AmazonIDType: w.AmazonIDType, Action: csvmodel.ActionUpsert}
		switch w.Action {
		case report.ActCreate, report.ActUpdate:
		case report.ActDelete:
			row.Action = csvmodel.ActionDelete
		default:
			return nil, fmt.Errorf("plan %s: write %d: action %q is not create, update or delete", path, i+1, w.Action)
		}
		if msg := csvmodel.Check(row); msg != "" {
			return nil, fmt.Errorf("plan %s: write %d: %s", path, i+1, msg)
		}
		if seen[row.Key()] {
			return nil, fmt.Errorf("plan %s: write %d: %s appears twice", path, i+1, w.ExternalUserID)
		}
		seen[row.Key()] = true
	}
	return f.Writes, nil
}
