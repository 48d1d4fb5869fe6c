// Package alertmgr starts a real Alertmanager for tests: the Debian
// binary prometheus-alertmanager (or RUNBOOK_ALERTMANAGER_BIN) with a
// temporary config and storage directory, listening on 127.0.0.1 and a free
// port, clustering off, routing every alert to one webhook receiver with
// short waits, so a firing alert reaches the receiver within seconds.
//
// Without the binary Start skips the test, unless CI is set, where it fails:
// CI must not go green by skipping.
package alertmgr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/runbookhq/runbook/internal/testenv"
)

// EnvBin names the environment variable that overrides the binary's path.
const EnvBin = "RUNBOOK_ALERTMANAGER_BIN"

// ErrNotInstalled means no alertmanager binary was found.
var ErrNotInstalled = errors.New("alertmanager binary not found: install the Debian package prometheus-alertmanager or set " + EnvBin)

// Bin returns the binary to run: $RUNBOOK_ALERTMANAGER_BIN, else
// prometheus-alertmanager (Debian's name) or alertmanager on PATH.
func Bin() (string, error) {
	return testenv.FindBin(EnvBin, ErrNotInstalled, "prometheus-alertmanager", "alertmanager")
}

// Receiver is the webhook every alert goes to, with the http_config
// Alertmanager authenticates with: Bearer, or User and Password.
type Receiver struct {
	URL            string
	Bearer         string
	User, Password string
}

// Server is a running Alertmanager owned by the test process.
type Server struct {
	// URL is the base URL, e.g. http://127.0.0.1:41234; Addr its host:port.
	URL, Addr string
	Dir       string
	proc      *testenv.Server
}

// Start runs Alertmanager sending to r, waits until it is ready and stops
// it when the test ends.
func Start(t testing.TB, r Receiver) *Server {
	t.Helper()
	bin := testenv.RequireBin(t, Bin)
	var s *Server
	proc := testenv.Serve(t, func(dir string) (testenv.Launch, error) {
		s = &Server{Dir: dir}
		return s.launch(bin, r)
	})
	s.proc = proc
	return s
}

func (s *Server) launch(bin string, r Receiver) (testenv.Launch, error) {
	port, err := testenv.FreePort()
	if err != nil {
		return testenv.Launch{}, err
	}
	cfg := filepath.Join(s.Dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(config(r)), 0o600); err != nil {
		return testenv.Launch{}, err
	}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s.URL = "http://" + s.Addr
	cmd := exec.Command(bin,
		"--config.file="+cfg,
		"--storage.path="+filepath.Join(s.Dir, "data"),
		"--web.listen-address="+s.Addr,
		// Clustering would bind 0.0.0.0:9094 and gossip with peers.
		"--cluster.listen-address=",
		"--log.level=debug",
	)
	return testenv.Launch{Name: "alertmanager", Dir: s.Dir, Cmd: cmd, Ready: s.ready}, nil
}

// config routes everything to the webhook: group_wait 1s so the first
// notification goes out a second after the alert arrives.
func config(r Receiver) string {
	auth := ""
	switch {
	case r.Bearer != "":
		auth = fmt.Sprintf("\n        http_config:\n          authorization:\n            type: Bearer\n            credentials: %q", r.Bearer)
	case r.User != "":
		auth = fmt.Sprintf("\n        http_config:\n          basic_auth:\n            username: %q\n            password: %q", r.User, r.Password)
	}
	return fmt.Sprintf(`route:
  receiver: runbook
  group_by: [alertname, service, env]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: runbook
    webhook_configs:
      - url: %q
        send_resolved: true%s
`, r.URL, auth)
}

// ready reports whether /-/ready answers 200.
func (s *Server) ready(ctx context.Context) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/-/ready", nil)
	if err != nil {
		return false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, nil
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}

// LogTail is the end of Alertmanager's log, for failure messages.
func (s *Server) LogTail() string { return s.proc.LogTail() }
