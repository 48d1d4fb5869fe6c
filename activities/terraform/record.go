package terraform

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// record is runbook-last-applied.json: what the last successful apply was
// made with. Vars keeps env: references as given, never their values, so the
// file can be read by anyone who may read the working directory.
type record struct {
	Vars         map[string]string `json:"vars"`
	Version      string            `json:"version"`
	PlanHash     string            `json:"plan_hash"`
	ModuleDigest string            `json:"module_digest"`
	Applied      int               `json:"applied"`
	Total        int               `json:"total"`
	AppliedAt    time.Time         `json:"applied_at"`
}

// planMeta is written beside a saved plan: what it was made with, so Apply
// records the plan's own variables rather than whatever the caller passes.
type planMeta struct {
	Vars         map[string]string `json:"vars"`
	Version      string            `json:"version"`
	Destroy      bool              `json:"destroy"`
	ModuleDigest string            `json:"module_digest"`
	PlanHash     string            `json:"plan_hash"`
	Total        int               `json:"total"`
}

// applyingMarker is created before a plan is applied and removed with the
// plan on success. Finding it means an earlier attempt was cancelled or its
// worker died mid-apply: the state may be partly applied, so the plan is stale
// whether or not OpenTofu managed to save the state.
const applyingMarker = "applying"

// readRecord returns the last-applied record, nil before the first apply.
func (w *workdir) readRecord() (*record, error) {
	b, err := os.ReadFile(filepath.Join(w.dir, recordName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, failed(fmt.Sprintf("%s: read %s: %v", w.name(), recordName, err), true)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, failed(fmt.Sprintf("%s: %s is corrupt (%v); restore it or delete it to treat the next release as the first", w.name(), recordName, err), false)
	}
	return &r, nil
}

func (w *workdir) writeRecord(r record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(w.dir, recordName), append(b, '\n'))
}

// planID returns the id of a plan file of this working directory, or an
// error when the path is anything else: Apply must not be pointed at an
// arbitrary file.
func (w *workdir) planID(path string) (string, error) {
	base := filepath.Base(path)
	id, ok := strings.CutSuffix(base, planSuffix)
	if !ok || !strings.HasPrefix(id, planPrefix) || filepath.Clean(filepath.Dir(path)) != w.dir || !nameRE.MatchString(id) {
		return "", invalid(fmt.Sprintf("%s: %q is not a plan file of the working directory %s; pass PlanResult.PlanFile unchanged", w.name(), path, w.dir))
	}
	return id, nil
}

func (w *workdir) planPath(id string) string { return filepath.Join(w.dir, id+planSuffix) }

func (w *workdir) readMeta(id string) (*planMeta, error) {
	b, err := os.ReadFile(w.meta(plansDir, id, "meta.json"))
	if err != nil {
		return nil, err
	}
	var m planMeta
	return &m, json.Unmarshal(b, &m)
}

func (w *workdir) writeMeta(id string, m planMeta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return writeFileAtomic(w.meta(plansDir, id, "meta.json"), b)
}

// removePlan deletes a saved plan and its metadata.
func (w *workdir) removePlan(id string) {
	_ = os.Remove(w.planPath(id))
	_ = os.RemoveAll(w.meta(plansDir, id))
}

// removeAllPlans deletes every saved plan: after a destroy none can apply.
func (w *workdir) removeAllPlans() {
	plans, _ := filepath.Glob(filepath.Join(w.dir, planPrefix+"*"+planSuffix))
	for _, p := range plans {
		_ = os.Remove(p)
	}
	_ = os.RemoveAll(w.meta(plansDir))
}

// commit records a successful apply of plan id: its configuration becomes
// the applied snapshot that Drift and Destroy use, its variables the record.
// A destroy plan leaves nothing deployed, so it clears both instead.
func (w *workdir) commit(id string, m *planMeta, applied, total int) error {
	if m.Destroy {
		w.forget()
		return nil
	}
	if err := os.RemoveAll(w.meta(appliedDir)); err != nil {
		return err
	}
	if err := os.Rename(w.meta(plansDir, id, "config"), w.meta(appliedDir)); err != nil {
		return err
	}
	return w.writeRecord(record{
		Vars: m.Vars, Version: m.Version, PlanHash: m.PlanHash, ModuleDigest: m.ModuleDigest,
		Applied: applied, Total: total, AppliedAt: time.Now().UTC(),
	})
}

// forget removes the record and the applied snapshot: nothing is deployed.
func (w *workdir) forget() {
	_ = os.Remove(filepath.Join(w.dir, recordName))
	_ = os.RemoveAll(w.meta(appliedDir))
}
