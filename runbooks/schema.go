package runbooks

import (
	"encoding/json"

	"github.com/invopop/jsonschema"
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
// one kind, and only the implemented kinds are accepted, so editors flag
// the same steps `runbook validate` refuses.
func (Step) JSONSchemaExtend(s *jsonschema.Schema) {
	all := append(append([]string(nil), implementedKinds...), draftKinds...)
	for _, k := range all {
		s.OneOf = append(s.OneOf, &jsonschema.Schema{Required: []string{k}})
	}
	s.Not = requiresAnyOf(draftKinds)
}

// JSONSchemaExtend makes editors refuse the environment sections that are
// drafted but not implemented yet, as `runbook validate` does.
func (Environment) JSONSchemaExtend(s *jsonschema.Schema) {
	s.Not = requiresAnyOf(draftSections)
}

// requiresAnyOf is a schema matching objects that have any of keys.
func requiresAnyOf(keys []string) *jsonschema.Schema {
	s := &jsonschema.Schema{}
	for _, k := range keys {
		s.AnyOf = append(s.AnyOf, &jsonschema.Schema{Required: []string{k}})
	}
	return s
}
