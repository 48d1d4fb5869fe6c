package test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runbookhq/runbook/activities/terraform"
	"github.com/runbookhq/runbook/internal/testenv/pg"
	"github.com/runbookhq/runbook/workflows"
)

// sharedStateModule is test/testdata/infra/blocking with its state in
// PostgreSQL (OpenTofu's pg backend), as a team keeps it: every host plans
// against the same state. Each create appends a line to signal_dir/created,
// so a resource created twice shows.
const sharedStateModule = `terraform {
  backend "pg" {
    conn_str = %q
  }
}

variable "app_version" {
  type = string
}

variable "signal_dir" {
  type = string
}

resource "terraform_data" "release" {
  triggers_replace = { version = var.app_version }
  input            = { version = var.app_version }

  provisioner "local-exec" {
    interpreter = ["/bin/bash", "-c"]
    command     = <<-EOT
      echo "$APP_VERSION" >> "$SIGNAL_DIR/created"
      for ((i = 0; i < 1800; i++)); do
        [[ -e $SIGNAL_DIR/proceed ]] && exit 0
        sleep 0.1
      done
      exit 1
    EOT
    environment = {
      SIGNAL_DIR  = var.signal_dir
      APP_VERSION = var.app_version
    }
  }
}

output "version" {
  value = terraform_data.release.output.version
}
`

// killDuringApply kills the worker that applies while OpenTofu runs the
// create. OpenTofu dies with it (terraform-exec gives it Pdeathsig) before
// it saves the state; the apply of the dead host's saved plan is never
// picked up, so the step plans again on the other host, which makes the
// create again. The state holds the resource once, and the audit record of
// the given-up plan names the create that was cut short, to check by hand.
func killDuringApply(t *testing.T, p *pg.Server) {
	r := twoHostRig(t, p, "two-apply")
	stateDSN := newDatabase(t, p, "tfstate")
	module, signals := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(module, "main.tf"), []byte(sprintfModule(stateDSN)), 0o600); err != nil {
		t.Fatal(err)
	}
	proceed := filepath.Join(signals, "proceed")
	t.Cleanup(func() { _ = os.WriteFile(proceed, nil, 0o644) }) // never leave an apply waiting
	hosts := twoHosts(r, terraform.BinEnv+"="+tofuBin(t))
	path, digest := r.writeRunbook("runbook.yaml", blockingInfraRunbook, map[string]any{"Module": module, "Dir": signals})

	id := r.deploy(path, digest, "1.0.0", requester)
	envID := workflows.EnvironmentID(r.service, "staging")
	eventually(t, "OpenTofu creating", func() bool { return len(createdLines(signals)) == 1 })
	waitHeartbeat(t, envID, "Apply", "terraform_data.release")
	killed, alive := killHolder(t, hosts, envID, "Apply")
	// Let the create's script end: OpenTofu, its parent, is gone.
	if err := os.WriteFile(proceed, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	st := r.waitFinished(id)
	assertSucceeded(t, st, "staging")

	if got := createdLines(signals); len(got) != 2 {
		t.Errorf("the resource was created %d times (%v), want twice: the cut-short create and the new plan's", len(got), got)
	}
	serial, resources := remoteState(t, stateDSN)
	t.Logf("state serial %d after the failover; resources %v", serial, resources)
	if !slices.Equal(resources, []string{"terraform_data.release"}) {
		t.Errorf("state holds %v, want terraform_data.release once", resources)
	}
	recs := auditOnce(t, r, id, "provision")
	var planned []string
	var stale []map[string]any
	for _, e := range recs {
		switch e["action"] {
		case "infra.planned":
			planned = append(planned, e["outcome"].(string))
		case "infra.plan-stale":
			stale = append(stale, e)
		}
	}
	if len(planned) != 2 || len(stale) != 1 || stale[0]["outcome"] != planned[0] {
		t.Fatalf("audit: planned %v, stale %v; want two plans, the first given up", planned, stale)
	}
	if d, _ := stale[0]["detail"].(string); !strings.Contains(d, "at terraform_data.release") || !strings.Contains(d, "@"+killed.name) {
		t.Errorf("the given-up plan's record does not name the host's queue and the create cut short: %q", d)
	}
	// The dead host's plan stayed on its disk, marked as being applied; the
	// live host applied a plan of its own, the second one.
	if marks, _ := filepath.Glob(filepath.Join(killed.dir, "state", r.service, "staging", ".runbook", "plans", "*", "applying")); len(marks) != 1 {
		t.Errorf("%s (killed) has %d interrupted plans, want its one", killed.name, len(marks))
	}
	var rec struct {
		PlanHash string `json:"plan_hash"`
	}
	b, err := os.ReadFile(filepath.Join(alive.dir, "state", r.service, "staging", "runbook-last-applied.json"))
	if err == nil {
		err = json.Unmarshal(b, &rec)
	}
	if err != nil || rec.PlanHash != planned[1] {
		t.Errorf("%s (alive) applied plan %q (%v), want the second plan %s", alive.name, rec.PlanHash, err, planned[1])
	}
	t.Logf("killed %s, finished on %s", killed.name, alive.name)
	r.exportRelease(t, st, "staging", "provision-host-gone-replanned")
}

func sprintfModule(dsn string) string {
	b, _ := json.Marshal(dsn) // an HCL string literal is a JSON one here: no ${ or %{ in a URL
	return strings.Replace(sharedStateModule, "%q", string(b), 1)
}

// createdLines are the lines the module's create wrote.
func createdLines(dir string) []string {
	b, _ := os.ReadFile(filepath.Join(dir, "created"))
	return strings.Fields(string(b))
}

// remoteState reads OpenTofu's state from the pg backend's table: its
// serial and the addresses of its resource instances.
func remoteState(t *testing.T, dsn string) (serial int, resources []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var data string
	if err := conn.QueryRow(ctx, `SELECT data FROM terraform_remote_state.states WHERE name = 'default'`).Scan(&data); err != nil {
		t.Fatalf("remote state: %v", err)
	}
	var st struct {
		Serial    int `json:"serial"`
		Resources []struct {
			Type, Name string
			Instances  []json.RawMessage
		} `json:"resources"`
	}
	if err := json.Unmarshal([]byte(data), &st); err != nil {
		t.Fatal(err)
	}
	for _, res := range st.Resources {
		for range res.Instances {
			resources = append(resources, res.Type+"."+res.Name)
		}
	}
	return st.Serial, resources
}
