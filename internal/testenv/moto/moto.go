// Package moto starts a real moto_server (the AWS API emulator, moto 5)
// for tests: the binary from RUNBOOK_MOTO_BIN or PATH, listening on 127.0.0.1
// and a free port, stopped by its pid when the test ends.
//
//	srv := moto.Start(t)
//	cfg := srv.Config()   // static test credentials, us-east-1, BaseEndpoint = srv.URL
//	c := elasticloadbalancingv2.NewFromConfig(cfg)
//
// Without the binary Start skips the test, unless CI is set, where it fails:
// CI must not go green by skipping.
package moto

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/runbookhq/runbook/internal/testenv"
)

// EnvBin names the environment variable that overrides the binary's path.
const EnvBin = "RUNBOOK_MOTO_BIN"

// Region is the region of every client Config builds.
const Region = "us-east-1"

// Static test credentials: moto accepts any.
const (
	AccessKeyID     = "testing"
	SecretAccessKey = "testing"
)

// ErrNotInstalled means no moto_server binary was found.
var ErrNotInstalled = errors.New("moto_server not found: pip install 'moto[server]' or set " + EnvBin)

// Server is a running moto_server owned by the test process.
type Server struct {
	// URL is the endpoint every emulated service answers on, e.g. http://127.0.0.1:41234.
	URL string
	// Dir holds moto.log.
	Dir string

	proc *testenv.Server
}

// Bin returns the binary to run: $RUNBOOK_MOTO_BIN, else moto_server on PATH.
func Bin() (string, error) {
	return testenv.FindBin(EnvBin, ErrNotInstalled, "moto_server")
}

// Start runs moto_server, waits until it answers and stops it when the test
// ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := testenv.RequireBin(t, Bin)
	var s *Server
	proc := testenv.Serve(t, func(dir string) (testenv.Launch, error) {
		s = &Server{Dir: dir}
		return s.launch(bin), nil
	})
	s.proc = proc
	return s
}

// launch runs moto_server on a port the kernel picks when it binds (-p 0),
// so no other test's server can take it between choosing and binding; the
// URL is set once the server's log names the port (see ready).
func (s *Server) launch(bin string) testenv.Launch {
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", "0")
	return testenv.Launch{Name: "moto", Dir: s.Dir, Cmd: cmd, Ready: s.ready}
}

// runningOn is how moto's web server announces its address.
var runningOn = regexp.MustCompile(`Running on http://127\.0\.0\.1:(\d+)`)

// learnURL reads the port the server bound from its log, once it is there.
func (s *Server) learnURL() bool {
	b, err := os.ReadFile(filepath.Join(s.Dir, "moto.log"))
	if err != nil {
		return false
	}
	m := runningOn.FindSubmatch(b)
	if m == nil {
		return false
	}
	s.URL = "http://" + net.JoinHostPort("127.0.0.1", string(m[1]))
	return true
}

// Stop terminates the server by its pid (SIGTERM, then SIGKILL after 10 s)
// and waits for it. Calling it twice is fine.
func (s *Server) Stop() error { return s.proc.Stop() }

// Config returns an aws.Config for the server: static test credentials,
// region us-east-1 and BaseEndpoint set to the server's URL.
func (s *Server) Config() aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: aws.String(s.URL),
	}
}

// Query sends one signed AWS query-protocol request (Action=...&Version=...)
// to service (e.g. "ec2") and returns the XML body of a 200 answer. It lets
// tests drive services whose SDK module the project does not depend on.
func (s *Server) Query(ctx context.Context, service string, params url.Values) ([]byte, error) {
	body := params.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/", bytes.NewReader([]byte(body)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), service, Region, time.Now()); err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: HTTP %d: %.300s", service, params.Get("Action"), resp.StatusCode, out)
	}
	return out, nil
}

// ready reports whether the log names the port and /moto-api/ answers 200.
func (s *Server) ready(ctx context.Context) (bool, error) {
	return (s.URL != "" || s.learnURL()) && s.answers(ctx), nil
}

func (s *Server) answers(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/moto-api/", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
