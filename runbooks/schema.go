package runbooks

import (
	"encoding/json"
	"slices"

	"github.com/invopop/jsonschema"

	"github.com/runbookhq/runbook/internal/providers"
)

// SchemaID is the $id of the runbook JSON Schema; editors match it with
// a "# yaml-language-server: $schema=..." comment or their settings.
const SchemaID = "https://runbook.dev/schema/runbook-v1.json"

// durationPattern matches what ParseDuration accepts in practice: Go
// durations ("90s", "1h30m", "1.5h") and whole days ("2d").
const durationPattern = `^(0|[0-9]+d|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$`

// JSONSchema returns the JSON Schema (draft 2020-12) of the runbook format,
// indented, for editors and for `runbook schema`. It is generated from the
// Go types so the two cannot drift apart. Editors cannot check everything
// (unique names, release-window times, ${variables}); `runbook validate`
// remains the reference.
func JSONSchema() ([]byte, error) {
	r := &jsonschema.Reflector{
		FieldNameTag: "yaml",
		// The root is the Runbook object itself rather than a $ref to it,
		// so editors show its title and description at the top.
		ExpandedStruct: true,
		Anonymous:      true,
	}
	s := r.Reflect(&Runbook{})
	s.ID = SchemaID
	s.Title = "runbook v1"
	s.Description = "A deployment runbook: the artifact a service releases and the environments, " +
		"in promotion order, with the steps a release runs in each. Run by `runbook deploy`."
	return json.MarshalIndent(s, "", "  ")
}

// JSONSchema describes Duration as the string it is written as.
func (Duration) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{
		Type:        "string",
		Pattern:     durationPattern,
		Description: "A duration such as 30s, 5m, 1h30m or 2d (days).",
		Examples:    []any{"30s", "5m", "1h30m", "2d"},
	}
}

// JSONSchemaExtend adds what struct tags cannot say: a step has exactly
// one kind.
func (Step) JSONSchemaExtend(s *jsonschema.Schema) {
	s.OneOf = requiresOneOf(stepKinds)
}

// JSONSchemaExtend adds that slos need a metrics section to read from.
// Whether the environment also has a traffic step to analyse them in is
// left to `runbook validate`.
func (Environment) JSONSchemaExtend(s *jsonschema.Schema) {
	s.DependentRequired = map[string][]string{"slos": {"metrics"}}
}

// JSONSchemaExtend adds that an SLO has exactly one objective, and that a
// query and its max come together.
func (SLO) JSONSchemaExtend(s *jsonschema.Schema) {
	s.OneOf = requiresOneOf(sloObjectives)
	s.DependentRequired = map[string][]string{"query": {"max"}, "max": {"query"}}
}

// JSONSchemaExtend lists the routers from internal/providers, says there
// are exactly two slots (the generator ignores minProperties tags on maps)
// and constrains slot names and keys as `runbook validate` does, so editors
// flag a key ${slot.KEY} could not read.
func (Traffic) JSONSchemaExtend(s *jsonschema.Schema) {
	names := providers.Traffic()
	labelled := slices.Clone(names)
	if i := slices.Index(labelled, "edge"); i >= 0 {
		labelled[i] = "edge (runbook's own proxy)"
	}
	providerEnum(s, names, "Router: "+orList(labelled)+".")
	slots, ok := s.Properties.Get("slots")
	if !ok || slots.AdditionalProperties == nil {
		return
	}
	two := uint64(2)
	slots.MinProperties, slots.MaxProperties = &two, &two
	slots.PropertyNames = &jsonschema.Schema{Pattern: nameRe.String()}
	slots.AdditionalProperties.PropertyNames = &jsonschema.Schema{Pattern: slotKeyRe.String()}
}

// JSONSchemaExtend lists the metrics providers from internal/providers.
func (Metrics) JSONSchemaExtend(s *jsonschema.Schema) {
	providerEnum(s, providers.Metrics(), "")
}

// providerEnum makes the provider property of s one of names, the list
// the validator and the worker's factory tables use, so the schema cannot
// drift from them.
func providerEnum(s *jsonschema.Schema, names []string, description string) {
	p, ok := s.Properties.Get("provider")
	if !ok {
		return
	}
	p.Enum = nil
	for _, n := range names {
		p.Enum = append(p.Enum, n)
	}
	p.Description = description
}

// requiresOneOf is a list of schemas, each requiring one of keys: under
// oneOf, an object must have exactly one of them.
func requiresOneOf(keys []string) []*jsonschema.Schema {
	var list []*jsonschema.Schema
	for _, k := range keys {
		list = append(list, &jsonschema.Schema{Required: []string{k}})
	}
	return list
}
