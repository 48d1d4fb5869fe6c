package workflows

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/runbooks"
)

// Names of the built-in steps every environment runs before its own.
const (
	BuiltinWindow   = "release-window"
	BuiltinArtifact = "verify-artifact"
)

// vars are the ${...} variables a step may use.
func (e *environment) vars() map[string]string {
	v := map[string]string{
		runbooks.VarVersion: e.in.Version, runbooks.VarService: e.in.Service,
		runbooks.VarEnvironment: e.in.Env.Name, runbooks.VarArtifact: e.in.Artifact.Reference,
	}
	for _, name := range sortedKeys(e.outputs) {
		v[runbooks.VarOutputsPrefix+name] = e.outputs[name]
	}
	if e.slots != nil {
		v[runbooks.VarSlot], v[runbooks.VarLiveSlot] = e.slots.target, e.slots.live
		slot := e.in.Env.Traffic.Slots[e.slots.target]
		for _, k := range sortedKeys(slot) {
			v[runbooks.VarSlotPrefix+k] = slot[k]
		}
	}
	return v
}

// expand replaces the variables in s. A ${outputs.NAME} left over names an
// output the module did not produce, or a sensitive one: that is an error
// of the runbook, not something to retry.
func (e *environment) expand(s string) (string, error) {
	out := runbooks.Expand(s, e.vars())
	if i := strings.Index(out, "${"+runbooks.VarOutputsPrefix); i >= 0 {
		return "", temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"%s: the provision step produced no usable output for %s (missing, or sensitive and therefore never exposed)",
			s, out[i:strings.IndexByte(out[i:], '}')+i+1]), ErrTypeInvalid, nil)
	}
	return out, nil
}

// expandAll expands each of texts, stopping at the first error.
func (e *environment) expandAll(texts ...string) ([]string, error) {
	out := make([]string, len(texts))
	for i, t := range texts {
		v, err := e.expand(t)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// idempotencyKey is unique per environment run and step, and the same on
// every retry, so a receiver can apply a step's effect exactly once.
func (e *environment) idempotencyKey(step string) string {
	return e.status.WorkflowID + "/" + e.status.RunID + "/" + step
}

func methodOr(m, def string) string {
	if m == "" {
		return def
	}
	return m
}
