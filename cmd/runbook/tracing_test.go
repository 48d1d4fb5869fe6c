package main

import "testing"

// TestCommandName: the verb, whatever flags come before it or name it after.
func TestCommandName(t *testing.T) {
	for want, args := range map[string][]string{
		"worker": {"worker"},
		"deploy": {"deploy", "r.yaml", "--as", "worker"},
		"dev":    {"--address", "worker", "dev"},
		"list":   {"--namespace=x", "list"},
		"":       {"--help"},
	} {
		if got := commandName(args); got != want {
			t.Errorf("commandName(%q) = %q, want %q", args, got, want)
		}
	}
}
