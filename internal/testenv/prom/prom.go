// Package prom starts a real Prometheus server for tests: the Debian
// binary (or RUNBOOK_PROMETHEUS_BIN) with a temporary config and storage
// directory, listening on 127.0.0.1 and a free port, scraping the given
// targets every 250 ms.
//
//	target := httptest.NewServer(handler) // serves /metrics
//	srv := prom.Start(t, strings.TrimPrefix(target.URL, "http://"))
//	srv.WaitForData(t, `up{job="targets"} == 1`, time.Minute)
//
// Prometheus takes a few seconds after start before its first scrape, so tests
// wait for the data they need with WaitForData instead of sleeping.
//
// Without the binary Start skips the test, unless CI is set, where it fails:
// CI must not go green by skipping.
package prom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/testenv"
)

// EnvBin names the environment variable that overrides the binary's path.
const EnvBin = "RUNBOOK_PROMETHEUS_BIN"

// ErrNotInstalled means no prometheus binary was found.
var ErrNotInstalled = errors.New("prometheus binary not found: install the Debian package prometheus or set " + EnvBin)

// ScrapeInterval is how often the server scrapes its targets.
const ScrapeInterval = 250 * time.Millisecond

// Job is the job label of every target.
const Job = "targets"

// Server is a running Prometheus owned by the test process.
type Server struct {
	// URL is the base URL of the HTTP API, e.g. http://127.0.0.1:41234.
	URL string
	// Dir holds prometheus.yml, data/ and prometheus.log.
	Dir string

	proc *testenv.Server
}

// Bin returns the binary to run: $RUNBOOK_PROMETHEUS_BIN, else prometheus on PATH.
func Bin() (string, error) {
	return testenv.FindBin(EnvBin, ErrNotInstalled, "prometheus")
}

// Start runs Prometheus scraping targets (host:port, path /metrics), waits
// until it is ready and stops it when the test ends.
func Start(t testing.TB, targets ...string) *Server {
	t.Helper()
	return StartWith(t, Options{Targets: targets})
}

// Options are what a test may add to the scrape of its targets.
type Options struct {
	Targets []string
	// Rules is a rule file's text (groups: ...), evaluated every second.
	Rules string
	// Alertmanagers are host:port addresses alerts are sent to.
	Alertmanagers []string
}

// StartWith is Start with alerting rules and Alertmanagers.
func StartWith(t testing.TB, o Options) *Server {
	t.Helper()
	bin := testenv.RequireBin(t, Bin)
	var s *Server
	proc := testenv.Serve(t, func(dir string) (testenv.Launch, error) {
		s = &Server{Dir: dir}
		return s.launch(bin, o)
	})
	s.proc = proc
	return s
}

// launch writes the config for a free port and describes the command.
func (s *Server) launch(bin string, o Options) (testenv.Launch, error) {
	port, err := testenv.FreePort()
	if err != nil {
		return testenv.Launch{}, err
	}
	text := config(o.Targets)
	if o.Rules != "" {
		rules := filepath.Join(s.Dir, "rules.yml")
		if err := os.WriteFile(rules, []byte(o.Rules), 0o600); err != nil {
			return testenv.Launch{}, err
		}
		text += "rule_files: [" + strconv.Quote(rules) + "]\n"
	}
	if len(o.Alertmanagers) > 0 {
		text += "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ["
		for i, a := range o.Alertmanagers {
			if i > 0 {
				text += ", "
			}
			text += strconv.Quote(a)
		}
		text += "]\n"
	}
	cfg := filepath.Join(s.Dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		return testenv.Launch{}, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s.URL = "http://" + addr
	cmd := exec.Command(bin,
		"--config.file="+cfg,
		"--storage.tsdb.path="+filepath.Join(s.Dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=info",
	)
	return testenv.Launch{Name: "prometheus", Dir: s.Dir, Cmd: cmd, Ready: s.ready}, nil
}

func config(targets []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  scrape_interval: %dms\n  scrape_timeout: %dms\n  evaluation_interval: 1s\n",
		ScrapeInterval.Milliseconds(), ScrapeInterval.Milliseconds()*4/5)
	fmt.Fprintf(&b, "scrape_configs:\n  - job_name: %s\n    static_configs:\n      - targets: [", Job)
	for i, tg := range targets {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(tg))
	}
	b.WriteString("]\n")
	return b.String()
}

// Stop terminates the server by its pid (SIGTERM, then SIGKILL after 10 s)
// and waits for it. Calling it twice is fine.
func (s *Server) Stop() error { return s.proc.Stop() }

// ready reports whether /-/ready answers 200 and the server is ours.
func (s *Server) ready(ctx context.Context) (bool, error) {
	resp, err := httpGet(ctx, s.URL+"/-/ready")
	if err != nil {
		return false, nil
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, nil
	}
	return true, s.ours(ctx)
}

// ours checks that the Prometheus answering at URL runs our config file: a
// port taken by another test's server between choosing and binding would
// otherwise look ready while this one has exited.
func (s *Server) ours(ctx context.Context) error {
	resp, err := httpGet(ctx, s.URL+"/api/v1/status/flags")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var flags struct {
		Data map[string]string `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&flags); err != nil {
		return fmt.Errorf("prometheus flags: %w", err)
	}
	if want := filepath.Join(s.Dir, "prometheus.yml"); flags.Data["config.file"] != want {
		return fmt.Errorf("the prometheus at %s runs %s, not %s: its port was taken", s.URL, flags.Data["config.file"], want)
	}
	return nil
}

// WaitForData polls the instant query until it returns at least one series
// or a scalar, failing the test after timeout. Use it to wait for the first
// scrapes instead of sleeping.
func (s *Server) WaitForData(t testing.TB, query string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last string
	err := s.proc.WaitFor(ctx, func(ctx context.Context) (bool, error) {
		n, err := s.count(ctx, query)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		last = fmt.Sprintf("%d series", n)
		return n > 0, nil
	})
	if err != nil {
		t.Fatalf("waiting for data from %q: %v (last answer: %s)\n%s", query, err, last, s.proc.LogTail())
	}
}

// count runs an instant query and returns how many results it had.
func (s *Server) count(ctx context.Context, query string) (int, error) {
	resp, err := httpGet(ctx, s.URL+"/api/v1/query?query="+url.QueryEscape(query))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string            `json:"resultType"`
			Result     []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, err
	}
	if r.Status != "success" {
		return 0, errors.New(r.Error)
	}
	if r.Data.ResultType == "scalar" {
		return 1, nil
	}
	return len(r.Data.Result), nil
}

func httpGet(ctx context.Context, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return http.DefaultClient.Do(req)
}
