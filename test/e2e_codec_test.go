package test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/runbookhq/runbook/internal/codec"
	"github.com/runbookhq/runbook/internal/testenv"
	"github.com/runbookhq/runbook/worker"
	"github.com/runbookhq/runbook/workflows"
)

// codecRunbook has an owner, step names and URLs that must never reach the
// Temporal server in plaintext.
const codecRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-codec-owner-7f3
artifact:
  reference: {{.Artifact}}
environments:
  - name: staging
    steps:
      - name: smoke-codec-step
        http-check:
          url: {{.X.URL}}/codec-secret-path/staging
          interval: 250ms
  - name: production
    approvals:
      - name: codec-gate
        approvers: [bob, carol]
        timeout: 1h
        instructions: Compare the codec-secret dashboards.
    steps:
      - name: smoke-codec-step
        http-check:
          url: {{.X.URL}}/codec-secret-path/production
          interval: 250ms
`

// codecComment is the approval's comment: it too is only ciphertext in
// Temporal.
const codecComment = "CAB-4711 approved after the codec review"

// codecKeys writes a key file and adds RUNBOOK_CODEC_KEYS to the rig's
// environment, so its worker and CLI encrypt alike. Its second key is an
// old one: rotation keeps reading what it sealed.
func codecKeys(t *testing.T, r *rig) *codec.Codec {
	t.Helper()
	var text string
	for _, id := range []string{"e2e-2026", "e2e-2025"} {
		key := make([]byte, codec.KeySize)
		if _, err := rand.Read(key); err != nil {
			t.Fatal(err)
		}
		text += id + "=" + base64.StdEncoding.EncodeToString(key) + "\n"
	}
	file := filepath.Join(r.dir, "codec-keys")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	r.env = append(r.env, codec.EnvKeys+"=file:"+file)
	c, err := codec.New(text)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// codecClient points the rig's release client at the server at address
// with codec c, through worker.Dial as the CLI does.
func codecClient(t *testing.T, r *rig, c *codec.Codec, address string) {
	t.Helper()
	cfg := worker.Config{Client: client.Options{HostPort: address, Namespace: namespace}, Codec: c}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cc, err := worker.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Close)
	r.rc.Temporal, r.rc.DataConverter = cc, cfg.DataConverter()
}

// TestEncryptedPayloads runs a release with an approval comment with
// RUNBOOK_CODEC_KEYS set, then reads its histories with a plain client:
// no owner, step name, URL, status or comment in any payload or failure,
// while `runbook status` reads them all and the codec server decrypts a
// history's payloads for the token holder only.
func TestEncryptedPayloads(t *testing.T) {
	t.Parallel()
	r := newRig(t, "codec")
	c := codecKeys(t, r)
	codecClient(t, r, c, stack.address)
	rec := newRecorder(t)
	r.startWorker()
	path, digest := r.writeRunbook("runbook.yaml", codecRunbook, map[string]any{"URL": rec.srv.URL})
	id := r.deploy(path, digest, "3.1.4", "alice")
	r.waitFor(id, "gate codec-gate waiting", gateWaiting("production", "codec-gate"))
	// A refusal's message is an encrypted failure attribute: the CLI
	// decrypts it.
	if res := r.cli("approve", id, "--as", "alice"); res.code == 0 || !strings.Contains(res.stderr, "separation of duties") {
		t.Errorf("alice (the requester) approving: want a refusal mentioning separation of duties, got %s", res)
	}
	r.mustCLI("approve", id, "--as", "bob", "--comment", codecComment)
	if res := r.cli("watch", id); res.code != 0 {
		t.Fatalf("watch: %s", res)
	}

	// The CLI reads everything back.
	st := r.status(id)
	assertSucceeded(t, st, "staging", "production")
	gate := step(t, env(t, st, "production"), "codec-gate")
	if len(gate.Gate.Approvals) != 1 || gate.Gate.Approvals[0].Comment != codecComment {
		t.Fatalf("runbook status: gate approvals %+v, want bob's with the comment", gate.Gate.Approvals)
	}
	text := r.mustCLI("status", id).stdout
	for _, s := range []string{"smoke-codec-step", workflows.StateSucceeded} {
		if !strings.Contains(text, s) {
			t.Errorf("runbook status does not show %q:\n%s", s, text)
		}
	}

	// A CLI without the keys cannot read it, and says what is missing.
	var noKeys []string
	for _, kv := range r.env {
		if !strings.HasPrefix(kv, codec.EnvKeys+"=") {
			noKeys = append(noKeys, kv)
		}
	}
	if res := runCLI(t, noKeys, "", "status", id); res.code == 0 || !strings.Contains(res.stderr, codec.EnvKeys) || !strings.Contains(res.stderr, `"e2e-2026"`) {
		t.Errorf("runbook status without %s: want a failure naming it and the key e2e-2026, got %s", codec.EnvKeys, res)
	}

	// The server holds ciphertext only.
	secrets := []string{"separation of duties", "team-codec-owner-7f3", "smoke-codec-step", "codec-secret", rec.srv.URL, codecComment, `"` + workflows.StateSucceeded + `"`, "codec-gate"}
	var sealed []*commonpb.Payload
	ids := [][2]string{{id, ""}}
	for _, e := range st.Environments {
		ids = append(ids, [2]string{e.WorkflowID, e.RunID})
	}
	for _, w := range ids {
		sealed = append(sealed, assertHistorySealed(t, w[0], w[1], secrets)...)
	}
	t.Logf("%d payloads in the release's histories, all encrypted", len(sealed))
	prod := env(t, st, "production")
	assertEncryptedReplay(t, c, fetchHistory(t, stack.client, prod.WorkflowID, prod.RunID))

	assertCodecServer(t, r, sealed)

	// A rollback plan reads the previous release's runbook from its
	// (encrypted) history input.
	next := r.deploy(path, digest, "3.1.5", "alice")
	r.waitFor(next, "gate codec-gate waiting", gateWaiting("production", "codec-gate"))
	r.mustCLI("approve", next, "--as", "carol")
	if res := r.cli("watch", next); res.code != 0 {
		t.Fatalf("watch: %s", res)
	}
	if res := r.mustCLI("rollback", r.service, "--env", "production", "--reason", "codec check", "--dry-run"); !strings.Contains(res.stdout, "3.1.4") {
		t.Errorf("rollback --dry-run does not plan 3.1.4 back:\n%s", res.stdout)
	}
}

// assertHistorySealed reads a workflow's history with the plain client and
// fails on any payload outside search attributes and headers that is not
// encrypted, and on any secret in a payload or a failure message. It
// returns the encrypted payloads.
func assertHistorySealed(t *testing.T, id, runID string, secrets []string) []*commonpb.Payload {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	it := stack.client.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var sealed []*commonpb.Payload
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", id, err)
		}
		where := fmt.Sprintf("%s event %d (%s)", id, ev.GetEventId(), ev.GetEventType())
		walkPayloads(ev.ProtoReflect(), "", func(p *commonpb.Payload, field string) {
			raw := string(p.GetData())
			for k, v := range p.GetMetadata() {
				raw += k + "=" + string(v)
			}
			for _, s := range secrets {
				if strings.Contains(raw, s) {
					t.Errorf("%s: %q in plaintext in payload %s", where, s, field)
				}
			}
			if string(p.GetMetadata()["encoding"]) == codec.Encoding {
				sealed = append(sealed, p)
			} else if !strings.Contains(field, "header") {
				t.Errorf("%s: payload %s is not encrypted (encoding %q)", where, field, p.GetMetadata()["encoding"])
			}
		}, func(f *failurepb.Failure) {
			for _, s := range secrets {
				if strings.Contains(f.GetMessage()+f.GetStackTrace(), s) {
					t.Errorf("%s: %q in plaintext in a failure message", where, s)
				}
			}
		})
	}
	return sealed
}

// walkPayloads calls payload for every Payload under m except search
// attributes (plaintext by design: the list filters on them), and failure
// for every Failure.
func walkPayloads(m protoreflect.Message, path string, payload func(*commonpb.Payload, string), failure func(*failurepb.Failure)) {
	switch v := m.Interface().(type) {
	case *commonpb.Payload:
		payload(v, path)
		return
	case *failurepb.Failure:
		failure(v)
	}
	m.Range(func(fd protoreflect.FieldDescriptor, val protoreflect.Value) bool {
		name := path + "." + string(fd.Name())
		if fd.Name() == "search_attributes" || fd.Message() == nil {
			return true
		}
		switch {
		case fd.IsList():
			for i := 0; i < val.List().Len(); i++ {
				walkPayloads(val.List().Get(i).Message(), name, payload, failure)
			}
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				val.Map().Range(func(_ protoreflect.MapKey, v protoreflect.Value) bool {
					walkPayloads(v.Message(), name, payload, failure)
					return true
				})
			}
		default:
			walkPayloads(val.Message(), name, payload, failure)
		}
		return true
	})
}

// codecUIOrigin is the origin the codec server of the test allows.
const codecUIOrigin = "http://127.0.0.1:8233"

// assertCodecServer starts `runbook codec-server` with a token and checks
// it decrypts the history's payloads for the token holder, refuses the
// others, and answers the CORS preflight of the allowed origin only.
func assertCodecServer(t *testing.T, r *rig, sealed []*commonpb.Payload) {
	t.Helper()
	bin, _ := binaries(t)
	const token = "e2e-codec-token-0123456789"
	var url string
	testenv.Serve(t, func(dir string) (testenv.Launch, error) {
		port, err := testenv.FreePort()
		if err != nil {
			return testenv.Launch{}, err
		}
		url = fmt.Sprintf("http://127.0.0.1:%d", port)
		cmd := exec.Command(bin, "codec-server", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--cors-origin", codecUIOrigin)
		cmd.Env = append(append([]string(nil), r.env...), codec.EnvToken+"=env:E2E_CODEC_TOKEN", "E2E_CODEC_TOKEN="+token)
		return testenv.Launch{Name: "codec-server", Dir: dir, Cmd: cmd, Ready: func(ctx context.Context) (bool, error) {
			resp, err := codecRequest(ctx, http.MethodOptions, url+"/decode", nil, map[string]string{"Origin": codecUIOrigin})
			return err == nil && resp.code == http.StatusNoContent, nil
		}}, nil
	})
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: sealed})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := codecRequest(ctx, http.MethodPost, url+"/decode", body, map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json", "Origin": codecUIOrigin})
	if err != nil || resp.code != http.StatusOK {
		t.Fatalf("POST /decode with the token: %v %+v", err, resp)
	}
	var out commonpb.Payloads
	if err := protojson.Unmarshal(resp.body, &out); err != nil {
		t.Fatalf("decode answer: %v\n%s", err, resp.body)
	}
	var all strings.Builder
	for _, p := range out.GetPayloads() {
		all.Write(p.GetData())
	}
	sealedBytes := 0
	for _, p := range sealed {
		sealedBytes += len(p.GetData())
	}
	t.Logf("payload data: %d bytes plaintext, %d bytes compressed and encrypted", all.Len(), sealedBytes)
	for _, s := range []string{codecComment, "team-codec-owner-7f3", "smoke-codec-step"} {
		if !strings.Contains(all.String(), s) {
			t.Errorf("the codec server's decoded payloads lack %q", s)
		}
	}
	if resp.header.Get("Access-Control-Allow-Origin") != codecUIOrigin {
		t.Errorf("POST from the UI origin: Access-Control-Allow-Origin %q", resp.header.Get("Access-Control-Allow-Origin"))
	}
	if resp, err := codecRequest(ctx, http.MethodPost, url+"/decode", body, map[string]string{"Content-Type": "application/json"}); err != nil || resp.code != http.StatusUnauthorized {
		t.Errorf("POST /decode without the token: %v %+v, want 401", err, resp)
	}
	if resp, err := codecRequest(ctx, http.MethodOptions, url+"/decode", nil, map[string]string{"Origin": "http://127.0.0.1:9"}); err != nil || resp.code != http.StatusForbidden || resp.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin: %v %+v, want 403 without CORS headers", err, resp)
	}
}

// codecAnswer is what the codec server answered.
type codecAnswer struct {
	code   int
	header http.Header
	body   []byte
}

func codecRequest(ctx context.Context, method, url string, body []byte, hdr map[string]string) (codecAnswer, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return codecAnswer{}, err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return codecAnswer{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return codecAnswer{code: resp.StatusCode, header: resp.Header, body: b}, err
}
