package runbooks

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// schemaDoc is the part of a JSON Schema these tests read.
type schemaDoc struct {
	Schema      string                     `json:"$schema"`
	ID          string                     `json:"$id"`
	Title       string                     `json:"title"`
	Description string                     `json:"description"`
	Properties  map[string]json.RawMessage `json:"properties"`
	Defs        map[string]schemaNode      `json:"$defs"`
}

type schemaNode struct {
	Type                 string                     `json:"type"`
	Pattern              string                     `json:"pattern"`
	Description          string                     `json:"description"`
	Properties           map[string]json.RawMessage `json:"properties"`
	AdditionalProperties json.RawMessage            `json:"additionalProperties"`
	OneOf                []struct {
		Required []string `json:"required"`
	} `json:"oneOf"`
	DependentRequired map[string][]string `json:"dependentRequired"`
	Not               json.RawMessage     `json:"not"`
}

// oneOfRequired lists the keys n's oneOf alternatives require, sorted.
func (n schemaNode) oneOfRequired() []string {
	var keys []string
	for _, o := range n.OneOf {
		keys = append(keys, o.Required...)
	}
	sort.Strings(keys)
	return keys
}

func loadSchema(t *testing.T) ([]byte, schemaDoc) {
	t.Helper()
	b, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	var doc schemaDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("schema is not valid JSON: %v", err)
	}
	return b, doc
}

func TestSchemaHeader(t *testing.T) {
	_, doc := loadSchema(t)
	if doc.Schema != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %q, want draft 2020-12", doc.Schema)
	}
	if doc.ID != "https://runbook.dev/schema/runbook-v1.json" || doc.Title == "" || doc.Description == "" {
		t.Errorf("$id/title/description = %q / %q / %q", doc.ID, doc.Title, doc.Description)
	}
	for _, k := range []string{"api-version", "service", "owner", "artifact", "policy", "environments"} {
		if _, ok := doc.Properties[k]; !ok {
			t.Errorf("top-level property %q missing", k)
		}
	}
}

func TestSchemaStepKinds(t *testing.T) {
	_, doc := loadSchema(t)
	step := doc.Defs["Step"]
	oneOf := step.oneOfRequired()
	all := slices.Clone(stepKinds)
	for _, k := range all {
		if _, ok := step.Properties[k]; !ok {
			t.Errorf("step kind %q is not a Step property", k)
		}
	}
	sort.Strings(all)
	if !reflect.DeepEqual(all, oneOf) {
		t.Errorf("Step oneOf requires %v, want every kind %v", oneOf, all)
	}
	// Every kind is implemented: nothing is refused as a draft any more.
	for _, name := range []string{"Step", "Environment"} {
		if n := doc.Defs[name].Not; n != nil {
			t.Errorf("%s has not: %s; every kind and section is implemented", name, n)
		}
	}
}

// The traffic sections are described as what they are, and the rules a
// schema can express match the validator's.
func TestSchemaTraffic(t *testing.T) {
	raw, doc := loadSchema(t)
	if strings.Contains(string(raw), "not implemented") || strings.Contains(string(raw), "Planned") {
		t.Error("the schema still calls something planned or not implemented")
	}
	env := doc.Defs["Environment"]
	for _, k := range []string{"traffic", "metrics", "slos"} {
		if !strings.Contains(string(env.Properties[k]), `"description"`) {
			t.Errorf("environment %s has no description", k)
		}
	}
	if got := env.DependentRequired["slos"]; !reflect.DeepEqual(got, []string{"metrics"}) {
		t.Errorf("Environment dependentRequired slos = %v, want [metrics]", got)
	}
	slo := doc.Defs["SLO"]
	if want := slices.Sorted(slices.Values(sloObjectives)); !reflect.DeepEqual(slo.oneOfRequired(), want) {
		t.Errorf("SLO oneOf requires %v, want %v", slo.oneOfRequired(), want)
	}
	if got := slo.DependentRequired; !reflect.DeepEqual(got, map[string][]string{"query": {"max"}, "max": {"query"}}) {
		t.Errorf("SLO dependentRequired = %v, want query and max together", got)
	}
	var slots struct {
		MinProperties, MaxProperties int
		PropertyNames                struct{ Pattern string }
		AdditionalProperties         struct {
			PropertyNames struct{ Pattern string }
		}
	}
	if err := json.Unmarshal(doc.Defs["Traffic"].Properties["slots"], &slots); err != nil {
		t.Fatal(err)
	}
	if slots.MinProperties != 2 || slots.MaxProperties != 2 || slots.PropertyNames.Pattern != nameRe.String() ||
		slots.AdditionalProperties.PropertyNames.Pattern != slotKeyRe.String() {
		t.Errorf("Traffic.slots schema = %+v; want exactly two slots with checked names and keys", slots)
	}
	for _, def := range []string{"CanaryStep", "LinearStep", "BlueGreenStep", "AllAtOnceStep", "Compare", "BurnRate", "Latency"} {
		if _, ok := doc.Defs[def]; !ok {
			t.Errorf("no $defs/%s", def)
		}
	}
}

// Every object is closed, so editors flag typos just as Parse does.
func TestSchemaClosesEveryObject(t *testing.T) {
	_, doc := loadSchema(t)
	for name, def := range doc.Defs {
		if def.Type == "object" && string(def.AdditionalProperties) != "false" {
			t.Errorf("%s: additionalProperties = %s, want false", name, def.AdditionalProperties)
		}
	}
	d := doc.Defs["Duration"]
	if d.Type != "string" || d.Pattern == "" || d.Description == "" {
		t.Errorf("Duration schema = %+v", d)
	}
	re := regexp.MustCompile(d.Pattern)
	for _, ok := range []string{"30s", "5m", "1h30m", "2d", "1.5h", "300ms", "0"} {
		if !re.MatchString(ok) {
			t.Errorf("duration pattern refuses %q", ok)
		}
		if _, err := ParseDuration(ok); err != nil {
			t.Errorf("ParseDuration(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"30", "1 hour", "-5m", "2w", ""} {
		if re.MatchString(bad) {
			t.Errorf("duration pattern accepts %q", bad)
		}
	}
}

func TestSchemaCoversExampleKeys(t *testing.T) {
	raw, _ := loadSchema(t)
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	collectKeys(&root, keys)
	if len(keys) < 20 {
		t.Fatalf("found only %d keys in the example", len(keys))
	}
	for k := range keys {
		if !strings.Contains(string(raw), `"`+k+`": {`) {
			t.Errorf("example key %q is not a property in the schema", k)
		}
	}
}

func collectKeys(n *yaml.Node, keys map[string]bool) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			keys[k] = true
			// Maps with free-form keys (variables, headers) are not
			// schema properties.
			if !freeFormKeys[k] {
				collectKeys(n.Content[i+1], keys)
			}
		}
		return
	}
	for _, c := range n.Content {
		collectKeys(c, keys)
	}
}

var freeFormKeys = map[string]bool{"vars": true, "headers": true, "options": true}

// invopop splits jsonschema tags on commas; a description or pattern with
// an unescaped comma would be cut short. Every tag's description and
// pattern must reach the schema whole.
func TestSchemaKeepsTagsWhole(t *testing.T) {
	raw, _ := loadSchema(t)
	var text any
	if err := json.Unmarshal(raw, &text); err != nil {
		t.Fatal(err)
	}
	flat, _ := json.Marshal(text) // normalise escapes such as \u003c
	flatStr := string(flat)
	for _, typ := range []reflect.Type{reflectType[Runbook](), reflectType[Artifact](), reflectType[Policy](),
		reflectType[Environment](), reflectType[ReleaseWindow](), reflectType[Approval](), reflectType[HTTPCheckStep](),
		reflectType[Step](), reflectType[HTTPHook](), reflectType[SLO](), reflectType[Database](), reflectType[Traffic](),
		reflectType[Metrics](), reflectType[Latency](), reflectType[Compare](), reflectType[BurnRate](), reflectType[CanaryStep](),
		reflectType[CanaryWeight](), reflectType[LinearStep](), reflectType[BlueGreenStep](), reflectType[AllAtOnceStep]()} {
		for i := 0; i < typ.NumField(); i++ {
			tag := strings.ReplaceAll(typ.Field(i).Tag.Get("jsonschema"), `\,`, "\x00")
			for _, part := range strings.Split(tag, ",") {
				k, v, ok := strings.Cut(strings.ReplaceAll(part, "\x00", ","), "=")
				if !ok || (k != "description" && k != "pattern") {
					continue
				}
				enc, _ := json.Marshal(v)
				if !strings.Contains(flatStr, string(enc)) {
					t.Errorf("%s.%s: %s %q is not in the schema whole", typ.Name(), typ.Field(i).Name, k, v)
				}
			}
		}
	}
}
