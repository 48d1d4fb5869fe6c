package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/runbookhq/runbook/internal/edgeproxy"
)

// EdgeTokenEnv holds the edge proxy's admin token; it is never a flag, so it
// stays out of shell history and process listings.
const EdgeTokenEnv = "RUNBOOK_EDGE_TOKEN"

// The local edge proxy `runbook dev` and `runbook demo` start, with the two
// slots of runbooks/examples/storefront.yaml as its backends.
const (
	localEdgeListen = "127.0.0.1:18090"
	localEdgeAdmin  = "127.0.0.1:18091"
)

// LocalEdgeBackends are the local edge's slots, seeded with weight 0:
// nothing is live until the first release takes all traffic to its slot.
var LocalEdgeBackends = []edgeproxy.BackendSpec{
	{Name: "blue", URL: "http://127.0.0.1:18181", Weight: 0},
	{Name: "green", URL: "http://127.0.0.1:18182", Weight: 0},
}

// edgeGrace is how long requests in flight may take when the stack stops.
const edgeGrace = 5 * time.Second

// CheckEdgeToken refuses a missing or short admin token before anything
// listens, saying how to make one.
func CheckEdgeToken(token string) error {
	const howto = "; set one with\n  export %s=$(openssl rand -hex 32)\nand give the same variable to the worker"
	switch {
	case token == "":
		return fmt.Errorf("%s is not set: the admin API needs a token"+howto, EdgeTokenEnv, EdgeTokenEnv)
	case len(token) < edgeproxy.MinTokenLen:
		return fmt.Errorf("%s is %d bytes: the admin API moves traffic, so its token needs at least %d"+howto,
			EdgeTokenEnv, len(token), edgeproxy.MinTokenLen, EdgeTokenEnv)
	}
	return nil
}

// startLocalEdge runs the edge proxy in this process. Its admin token comes
// from RUNBOOK_EDGE_TOKEN; without one, a token is generated, kept in
// <state dir>/edge.token (0600) and exported to this process so the
// in-process worker can use it. The token is never printed.
func startLocalEdge(stateDir string, out, errOut io.Writer) (*edgeproxy.Server, func(), error) {
	token, tokenFile, err := localEdgeToken(stateDir)
	if err != nil {
		return nil, nil, err
	}
	srv, err := edgeproxy.New(edgeproxy.Config{
		Listen: localEdgeListen, Admin: localEdgeAdmin, Token: token,
		StateFile: filepath.Join(stateDir, "edge.json"),
		Logger:    slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return nil, nil, err
	}
	if _, err := srv.Seed(LocalEdgeBackends); err != nil {
		return nil, nil, err
	}
	if err := srv.Start(); err != nil {
		return nil, nil, fmt.Errorf("edge proxy: %w (is another `runbook dev` or `runbook edge` running?)", err)
	}
	fmt.Fprintf(out, "Edge      proxy http://%s · admin http://%s (token: $%s", srv.ProxyAddr(), srv.AdminAddr(), EdgeTokenEnv)
	if tokenFile != "" {
		fmt.Fprintf(out, ", kept in %s", tokenFile)
	}
	fmt.Fprintln(out, ")")
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), edgeGrace)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	return srv, stop, nil
}

// localEdgeToken returns the admin token and, when it was generated or read
// from the state directory, the file that keeps it.
func localEdgeToken(stateDir string) (string, string, error) {
	if t := os.Getenv(EdgeTokenEnv); t != "" {
		return t, "", CheckEdgeToken(t)
	}
	file := filepath.Join(stateDir, "edge.token")
	b, err := os.ReadFile(file)
	switch {
	case err == nil:
	case errors.Is(err, os.ErrNotExist):
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return "", "", err
		}
		b = []byte(hex.EncodeToString(raw) + "\n")
		if err := os.MkdirAll(stateDir, 0o755); err != nil {
			return "", "", err
		}
		if err := os.WriteFile(file, b, 0o600); err != nil {
			return "", "", err
		}
	default:
		return "", "", err
	}
	t := strings.TrimSpace(string(b))
	if len(t) < edgeproxy.MinTokenLen {
		return "", "", fmt.Errorf("%s holds a token of %d bytes, and the edge needs at least %d: delete it to get a new token", file, len(t), edgeproxy.MinTokenLen)
	}
	// The in-process worker resolves the runbook's token: env:RUNBOOK_EDGE_TOKEN.
	if err := os.Setenv(EdgeTokenEnv, t); err != nil {
		return "", "", err
	}
	return t, file, nil
}
