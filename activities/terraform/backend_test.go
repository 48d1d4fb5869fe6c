package terraform

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestBackendHonoured: a module's backend block decides where the state
// lives, and a module that does not declare release_version still plans
// (OpenTofu only warns about the undeclared variable).
func TestBackendHonoured(t *testing.T) {
	t.Parallel()
	a := &Activities{Bin: tofuBin(t), StateDir: t.TempDir()}
	module, stateFile := t.TempDir(), filepath.Join(t.TempDir(), "custom.tfstate")
	src := fmt.Sprintf(`terraform {
  backend "local" {
    path = %q
  }
}

variable "n" {
  type    = string
  default = "1"
}

resource "terraform_data" "x" {
  input = var.n
}

output "n" {
  value = terraform_data.x.output
}
`, stateFile)
	if err := os.WriteFile(filepath.Join(module, "main.tf"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	ws := Workspace{Service: "checkout", Environment: "staging", Module: module, Vars: map[string]string{"n": "7"}, Version: "1.0.0"}
	p, err := a.Plan(t.Context(), PlanInput{Workspace: ws})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Apply(t.Context(), ApplyInput{Workspace: ws, PlanFile: p.PlanFile, PlanHash: p.PlanHash})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Outputs["n"].Value); got != `"7"` {
		t.Errorf("output n = %s, want \"7\"", got)
	}
	if _, err := os.Stat(stateFile); err != nil {
		t.Errorf("state not where the backend says: %v", err)
	}
	if _, err := os.Stat(filepath.Join(a.StateDir, "checkout", "staging", "terraform.tfstate")); !os.IsNotExist(err) {
		t.Errorf("state also in the working directory: %v", err)
	}
}
