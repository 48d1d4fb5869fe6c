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
		{"$5 and $ {x}", nil},
		{"${Version}", []string{"unknown variable ${Version}; the known variables are ${version}, ${service}, ${environment}, ${artifact} and ${outputs.NAME} (an output of the provision step)"}},
		{"${a}${b}", []string{
			"unknown variable ${a}; the known variables are ${version}, ${service}, ${environment}, ${artifact} and ${outputs.NAME} (an output of the provision step)",
			"unknown variable ${b}; the known variables are ${version}, ${service}, ${environment}, ${artifact} and ${outputs.NAME} (an output of the provision step)",
		}},
		{"ok ${version} then ${", []string{`"${" is not closed; write variables like ${version}`}},
	}
	for _, tt := range tests {
		if got := variableProblems(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("variableProblems(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
