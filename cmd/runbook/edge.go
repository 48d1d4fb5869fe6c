package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/devstack"
	"github.com/runbookhq/runbook/internal/edgeproxy"
)

// edgeTokenEnv holds the admin token; it is never a flag.
const edgeTokenEnv = devstack.EdgeTokenEnv

// edgeCmd is `runbook edge`: the embedded traffic router.
type edgeCmd struct {
	a                    *app
	listen, admin, state string
	backends             []string
	grace                time.Duration
}

func newEdgeCmd(a *app) *cobra.Command {
	v := &edgeCmd{a: a}
	cmd := &cobra.Command{
		Use:   "edge",
		Short: "Run the embedded traffic router: a local reverse proxy with weighted backends",
		Long: "edge proxies HTTP to weighted backends. Weights change live through the admin API\n" +
			"(Authorization: Bearer $" + edgeTokenEnv + "), persist in the state file, and per-backend\n" +
			"request, 5xx and latency metrics are served at <admin>/metrics.",
		Example: "  export " + edgeTokenEnv + "=$(openssl rand -hex 32)\n" +
			"  runbook edge --backend blue=http://127.0.0.1:9001=100 --backend green=http://127.0.0.1:9002=0",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return v.run(cmd.Context()) },
	}
	f := cmd.Flags()
	f.StringVar(&v.listen, "listen", "127.0.0.1:8080", "proxy address")
	f.StringVar(&v.admin, "admin", "127.0.0.1:8081", "admin API and /metrics address")
	f.StringVar(&v.state, "state", filepath.Join(".runbook", "edge.json"), "state file: backends and weights, kept across restarts")
	f.StringArrayVar(&v.backends, "backend", nil, "name=url=weight (repeatable); only added if the state file lacks that name")
	f.DurationVar(&v.grace, "grace", 30*time.Second, "on Ctrl-C, how long requests in flight may take to finish")
	return cmd
}

func (v *edgeCmd) run(ctx context.Context) error {
	ctx, stop := untilSignal(ctx)
	defer stop()
	token := os.Getenv(edgeTokenEnv)
	if err := devstack.CheckEdgeToken(token); err != nil {
		return err
	}
	specs, err := parseBackendFlags(v.backends)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(v.state), 0o755); err != nil {
		return err
	}
	srv, err := edgeproxy.New(edgeproxy.Config{
		Listen: v.listen, Admin: v.admin, Token: token, StateFile: v.state,
		Logger: slog.New(slog.NewTextHandler(v.a.errOut, nil)),
	})
	if err != nil {
		return err
	}
	if _, err := srv.Seed(specs); err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	v.print(srv)
	return srv.Wait(ctx, v.grace)
}

// parseBackendFlags reads the --backend name=url=weight flags.
func parseBackendFlags(flags []string) ([]edgeproxy.BackendSpec, error) {
	specs := make([]edgeproxy.BackendSpec, 0, len(flags))
	for _, f := range flags {
		b, err := edgeproxy.ParseBackendFlag(f)
		if err != nil {
			return nil, err
		}
		specs = append(specs, b)
	}
	return specs, nil
}

// print says where the proxy, its admin API and its state are.
func (v *edgeCmd) print(srv *edgeproxy.Server) {
	fmt.Fprintf(v.a.out, "Proxy     http://%s\nAdmin API http://%s/v1/backends (Bearer $%s)\nMetrics   http://%s/metrics\nState     %s\n",
		srv.ProxyAddr(), srv.AdminAddr(), edgeTokenEnv, srv.AdminAddr(), v.state)
	bs := srv.Backends()
	if len(bs) == 0 {
		fmt.Fprintln(v.a.out, "No backends yet: add one with --backend name=url=weight or PUT /v1/backends/{name}.")
	}
	for _, b := range bs {
		fmt.Fprintf(v.a.out, "  %-12s weight %3d  %s\n", b.Name, b.Weight, b.URL)
	}
	fmt.Fprintln(v.a.out, "Ctrl-C stops the proxy.")
}
