package main

import (
	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/runbooks"
)

// schemaCmd is `runbook schema`.
type schemaCmd struct {
	a *app
}

func newSchemaCmd(a *app) *cobra.Command {
	v := &schemaCmd{a: a}
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of runbooks, for editor completion",
		Args:  cobra.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return v.run() },
	}
}

func (v *schemaCmd) run() error {
	b, err := runbooks.JSONSchema()
	if err != nil {
		return err
	}
	_, err = v.a.out.Write(append(b, '\n'))
	return err
}
