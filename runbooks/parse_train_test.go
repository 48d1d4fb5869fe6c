package runbooks

import (
	"os"
	"strings"
	"testing"
)

// TestTrainFileNamedAsSuch: a train file given to the runbook parser gets
// one problem naming the train command, not one per train key.
func TestTrainFileNamedAsSuch(t *testing.T) {
	src, err := os.ReadFile("examples/train.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ps := problemsOf(t, "train.yaml", string(src))
	if len(ps) != 1 {
		t.Fatalf("want one problem, got %d:\n%s", len(ps), ps.Error())
	}
	wantProblemContaining(t, ps, "train.yaml:17:1", "release train file", "runbook train validate train.yaml")
	if _, err := Parse("x.yaml", []byte(strings.Replace(string(src), "train: shop", "train: shop\nservice: shop", 1))); err != nil && strings.Contains(err.Error(), "release train file") {
		t.Errorf("a runbook with service: is judged as a runbook: %v", err)
	}
}
