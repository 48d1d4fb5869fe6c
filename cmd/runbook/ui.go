package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/releases"
)

func newUICmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "ui", Short: "Set up the Temporal Web UI for runbook"}
	cmd.AddCommand(newUIColumnsCmd(a))
	return cmd
}

// uiColumnsCmd is `runbook ui columns`.
type uiColumnsCmd struct {
	a      *app
	output outputFlag
}

// uiColumnsJSON is what `runbook ui columns -o json` prints.
type uiColumnsJSON struct {
	Columns []string        `json:"columns"`
	Views   []releases.View `json:"views"`
}

func newUIColumnsCmd(a *app) *cobra.Command {
	v := &uiColumnsCmd{a: a}
	cmd := &cobra.Command{
		Use:   "columns",
		Short: "Print the workflow list's columns and saved views for releases",
		Long: "columns prints the search attributes to add as columns of the Web UI's workflow list\n" +
			"(Workflows → Configure columns) and the saved views an on-call SRE starts from: open a\n" +
			"view's link, then Save as View. The Web UI keeps both in the browser.",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return v.run() },
	}
	v.output.register(cmd.Flags())
	return cmd
}

func (v *uiColumnsCmd) run() error {
	cfg, err := v.a.config()
	if err != nil {
		return err
	}
	out := uiColumnsJSON{Columns: releases.Columns(), Views: releases.Views(cfg.UIURL, cfg.Client.Namespace)}
	return v.output.write(v.a.out, out, func() error { return writeUIColumns(v.a.out, out) })
}

// writeUIColumns prints the columns and the views for people.
func writeUIColumns(w io.Writer, c uiColumnsJSON) error {
	fmt.Fprintf(w, "Columns (Workflows → Configure columns):\n  %s\n\nSaved views (open the link, then Save as View):\n", strings.Join(c.Columns, "  "))
	for _, v := range c.Views {
		fmt.Fprintf(w, "\n  %s\n    %s\n", v.Name, v.Query)
		if v.URL != "" {
			fmt.Fprintf(w, "    %s\n", v.URL)
		}
	}
	return nil
}
