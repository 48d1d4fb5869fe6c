package runbooks

import (
	"reflect"
	"testing"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"version": "1.4.2", "service": "checkout", "environment": "prod"}
	tests := []struct{ in, want string }{
		{"", ""},
		{"no variables", "no variables"},
		{"${version}", "1.4.2"},
		{"http://${service}.${environment}/v${version}/x", "http://checkout.prod/v1.4.2/x"},
		{"${version}${version}", "1.4.21.4.2"},
		{"${unknown} stays", "${unknown} stays"},
		{"unclosed ${version", "unclosed ${version"},
		{"$version and $${version}", "$version and $1.4.2"},
		{"${}", "${}"},
		// Values are not expanded again: a version cannot inject a variable.
		{"${service}", "checkout"},
	}
	for _, tt := range tests {
		if got := Expand(tt.in, vars); got != tt.want {
			t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := Expand("${version}", map[string]string{"version": "${service}", "service": "x"}); got != "${service}" {
		t.Errorf("Expand expanded a value a second time: %q", got)
	}
	if got := Expand("${version}", nil); got != "${version}" {
		t.Errorf("Expand with nil vars = %q", got)
	}
}

func TestVariableProblems(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"${version} ${service} ${environment}", nil},
		{"${slot} ${live-slot} ${slot.url} ${slot.A_b-1} ${outputs.x}", nil},
		{"${slot.}", []string{"unknown variable ${slot.}; " + knownVariablesHint}},
		{"${slot.a b}", []string{"unknown variable ${slot.a b}; " + knownVariablesHint}},
		{"${slots}", []string{"unknown variable ${slots}; " + knownVariablesHint}},
		{"$5 and $ {x}", nil},
		{"${Version}", []string{"unknown variable ${Version}; the known variables are ${version}, ${service}, ${environment}, ${artifact}, ${outputs.NAME} (an output of the provision step), and with a traffic section ${slot}, ${live-slot} and ${slot.KEY} (a value of the target slot)"}},
		{"${a}${b}", []string{
			"unknown variable ${a}; " + knownVariablesHint,
			"unknown variable ${b}; " + knownVariablesHint,
		}},
		{"ok ${version} then ${", []string{`"${" is not closed; write variables like ${version}`}},
	}
	for _, tt := range tests {
		if got := variableProblems("", tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("variableProblems(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSlotVariables(t *testing.T) {
	if VarSlot != "slot" || VarLiveSlot != "live-slot" || VarSlotPrefix != "slot." {
		t.Fatalf("slot variable names changed: %q %q %q", VarSlot, VarLiveSlot, VarSlotPrefix)
	}
	// The workflow fills the map; Expand stays a pure replacement.
	vars := map[string]string{VarSlot: "green", VarLiveSlot: "blue", VarSlotPrefix + "url": "http://127.0.0.1:8082"}
	got := Expand("${slot.url}/healthz?from=${live-slot}&to=${slot}&x=${slot.port}", vars)
	if want := "http://127.0.0.1:8082/healthz?from=blue&to=green&x=${slot.port}"; got != want {
		t.Errorf("Expand = %q, want %q", got, want)
	}
	for _, name := range []string{"slot", "live-slot", "slot.url", "slot._A-1"} {
		if !isKnownVariable(name) || !isSlotVariable(name) {
			t.Errorf("%s is not a known slot variable", name)
		}
	}
	for _, name := range []string{"slots", "slot.", "slot.a.b", "live-slot.x", "liveslot"} {
		if isKnownVariable(name) {
			t.Errorf("%s is a known variable", name)
		}
	}
	if isSlotVariable(VarVersion) || isSlotVariable(VarOutputsPrefix+"url") {
		t.Error("release variables count as slot variables")
	}
}

// URLs built from slot variables are checked with placeholders, like
// outputs: a slot value at the start stands for a base URL.
func TestPlaceholders(t *testing.T) {
	tests := []struct{ in, want string }{
		{"${slot.url}/healthz", "http://value.invalid/healthz"},
		{"${outputs.url}/x?s=${slot}&l=${live-slot}", "http://value.invalid/x?s=slot&l=live-slot"},
		{"http://${slot.host}:${slot.port}/", "http://1:1/"},
		{"http://127.0.0.1/${version}", "http://127.0.0.1/0.0.0"},
	}
	for _, tt := range tests {
		if got := withPlaceholders(tt.in); got != tt.want {
			t.Errorf("withPlaceholders(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
