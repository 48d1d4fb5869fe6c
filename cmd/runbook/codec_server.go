package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/codec"
)

// codecServerCmd is `runbook codec-server`: the Temporal codec endpoints
// for the Web UI and `temporal --codec-endpoint`.
type codecServerCmd struct {
	a              *app
	listen, origin string
	noAuth         bool
}

func newCodecServerCmd(a *app) *cobra.Command {
	v := &codecServerCmd{a: a}
	cmd := &cobra.Command{
		Use:   "codec-server",
		Short: "Serve POST /encode and /decode so the Temporal Web UI shows encrypted payloads decrypted",
		Long: "codec-server decrypts and encrypts payloads with the keys of " + codec.EnvKeys + " for whoever\n" +
			"presents the bearer token of " + codec.EnvToken + ". Point the Web UI at it (codec endpoint\n" +
			"setting, or the UI server's codec.endpoint) and allow the UI's origin with --cors-origin.",
		Example: "  export " + codec.EnvKeys + "=file:/etc/runbook/codec-keys " + codec.EnvToken + "=file:/etc/runbook/codec-token\n" +
			"  runbook codec-server --listen 127.0.0.1:8089 --cors-origin http://127.0.0.1:8233",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return v.run(cmd.Context()) },
	}
	f := cmd.Flags()
	f.StringVar(&v.listen, "listen", "127.0.0.1:8089", "address to serve on")
	f.StringVar(&v.origin, "cors-origin", "http://127.0.0.1:8233", "the Web UI's origin, the only one browsers may call from (empty: none)")
	f.BoolVar(&v.noAuth, "no-auth", false, "serve without a token (loopback addresses only)")
	return cmd
}

func (v *codecServerCmd) run(ctx context.Context) error {
	ctx, stop := untilSignal(ctx)
	defer stop()
	c, err := codec.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	if c == nil {
		return errors.New(codec.EnvKeys + " is not set: the codec server needs the keys (env:NAME or file:PATH)")
	}
	tok, err := codec.LoadToken(os.Getenv, v.listen, v.noAuth)
	if err != nil {
		return err
	}
	srv, err := codec.Serve(v.listen, c, codec.ServerOptions{Token: tok, NoAuth: v.noAuth, CORSOrigin: v.origin})
	if err != nil {
		return err
	}
	defer srv.Stop()
	auth := "Bearer $" + codec.EnvToken
	if v.noAuth {
		auth = "no token (--no-auth)"
	}
	fmt.Fprintf(v.a.out, "Codec server %s (POST /encode, /decode; %s)\nWeb UI origin %q\nEncrypting key %s\nCtrl-C stops it.\n", srv.URL, auth, v.origin, c.KeyID())
	<-ctx.Done()
	return nil
}
