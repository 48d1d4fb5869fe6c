package test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/runbookhq/runbook/internal/devstack"
	"github.com/runbookhq/runbook/internal/testenv"
	"github.com/runbookhq/runbook/internal/testenv/webui"
)

// TestWebUIDecryptsThroughCodecServer runs `runbook dev` with
// RUNBOOK_CODEC_KEYS (its dev server, Web UI, codec server and worker), a
// release up to its gate through the CLI, and opens the release in the real
// Web UI in headless Chromium: the summary and the status, ciphertext in
// Temporal, read decrypted through the codec server `runbook dev` started.
func TestWebUIDecryptsThroughCodecServer(t *testing.T) {
	t.Parallel()
	b := webui.Start(t) // skips without Chromium unless CI is set
	r := newRig(t, "codecui")
	c := codecKeys(t, r)
	bin, _ := binaries(t)
	var addr, ui string
	testenv.Serve(t, func(dir string) (testenv.Launch, error) {
		port, err := testenv.FreePort()
		if err != nil {
			return testenv.Launch{}, err
		}
		uiPort, err := testenv.FreePort()
		if err != nil {
			return testenv.Launch{}, err
		}
		addr, ui = fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("http://127.0.0.1:%d", uiPort)
		cmd := exec.Command(bin, "dev", "--port", fmt.Sprint(port), "--ui-port", fmt.Sprint(uiPort), "--no-edge", "--db", dir+"/temporal.db")
		cmd.Env = append(append([]string(nil), r.env...), "RUNBOOK_STATE_DIR="+dir)
		return testenv.Launch{Name: "runbook-dev", Dir: dir, Cmd: cmd, Ready: func(ctx context.Context) (bool, error) {
			if devstack.Ping(ctx, addr) != nil {
				return false, nil
			}
			resp, err := http.Get(ui)
			if err != nil {
				return false, nil
			}
			_ = resp.Body.Close()
			return resp.StatusCode == http.StatusOK, nil
		}}, nil
	})
	// The CLI and the test's client talk to that server, with the keys.
	r.env = append(r.env, "TEMPORAL_ADDRESS="+addr)
	codecClient(t, r, c, addr)
	rec := newRecorder(t)
	path, digest := r.writeRunbook("runbook.yaml", codecRunbook, map[string]any{"URL": rec.srv.URL})
	id := r.deploy(path, digest, "2.7.1", "alice")
	r.waitFor(id, "gate codec-gate waiting", gateWaiting("production", "codec-gate"))

	from := len(b.Console())
	if err := b.Open(fmt.Sprintf("%s/namespaces/%s/workflows/%s/%s/user-metadata", ui, namespace, url.PathEscape(id), runIDAt(t, r, id))); err != nil {
		t.Fatal(err)
	}
	b.WaitText(webui.Top, "[data-testid=workflow-id-heading]", id, uiTimeout)
	// The summary and the current details are payloads: encrypted in
	// Temporal, readable here only through the codec server.
	b.WaitText(webui.Under("Summary"), "body", fmt.Sprintf("%s 2.7.1 by alice: staging → production", r.service), uiTimeout)
	b.WaitText(webui.Under("Current Details"), "body", "production: running (step codec-gate)", uiTimeout)
	b.WaitText(webui.Under("Current Details"), "body", "WAITING: gate codec-gate", uiTimeout)
	b.WaitText(webui.Under("Details"), "body", "owner team-codec-owner-7f3", uiTimeout)
	b.Screenshot("codec-release-user-metadata")
	markers := localActivityMarkerData(t, r, id)
	for _, w := range warningsSince(b, from) {
		if markerParseFailure(w, markers) {
			// Temporal UI 2.42.1 does not send a local activity marker's
			// details to the codec server and parses the ciphertext as
			// JSON; the UI's, not runbook's: logged, not failed.
			t.Logf("known (Temporal UI): local activity marker payload not sent to the codec: %.120s", w)
			continue
		}
		t.Errorf("the Web UI could not decode a payload: %.400s", w)
	}
}

// undecodedRe takes the start of the text the UI failed to parse as JSON.
var undecodedRe = regexp.MustCompile(`Unexpected token '.', "([A-Za-z0-9+/=]{6,})"\.\.\. is not valid JSON`)

// afterNumberRe takes the position JSON.parse names when the text starts
// with a number: base64 that starts with digits parses as one, then fails.
var afterNumberRe = regexp.MustCompile(`Unexpected non-whitespace character after JSON at position (\d+)`)

// leadingDigitsRe is the number JSON.parse reads at the start of base64.
var leadingDigitsRe = regexp.MustCompile(`^[0-9]+`)

// markerParseFailure reports whether the UI's warning w is its failure to
// parse one of the marker payloads (newline-separated base64) as JSON: the
// text it quotes starts a marker payload, or, when the payload starts with
// digits, the position it names is where that number ends.
func markerParseFailure(w, markers string) bool {
	if m := undecodedRe.FindStringSubmatch(w); m != nil {
		return strings.Contains(markers, m[1])
	}
	m := afterNumberRe.FindStringSubmatch(w)
	if m == nil {
		return false
	}
	for _, p := range strings.Fields(markers) {
		if n := leadingDigitsRe.FindString(p); n != "" && fmt.Sprint(len(n)) == m[1] {
			return true
		}
	}
	return false
}

// localActivityMarkerData is the base64 of the payloads of the workflow's
// local activity markers, as protojson writes them.
func localActivityMarkerData(t *testing.T, r *rig, id string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out strings.Builder
	it := r.rc.Temporal.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if m := ev.GetMarkerRecordedEventAttributes(); m != nil {
			for _, ps := range m.GetDetails() {
				for _, p := range ps.GetPayloads() {
					out.WriteString(base64.StdEncoding.EncodeToString(p.GetData()) + "\n")
				}
			}
		}
	}
	return out.String()
}

// runIDAt is the run ID of workflow id, through the rig's release client.
func runIDAt(t *testing.T, r *rig, id string) string {
	t.Helper()
	return runIDOf(t, r.rc.Temporal, id)
}

// TestMarkerParseFailureClassifies checks the classifier against the two
// forms Chromium's JSON.parse gives, with the texts seen in CI.
func TestMarkerParseFailureClassifies(t *testing.T) {
	markers := "4xQvZ2hh\nq83kLzAa\n"
	cases := []struct {
		w    string
		want bool
	}{
		{`Could not parse payload:  SyntaxError: Unexpected non-whitespace character after JSON at position 1 (line 1 column 2)`, true},
		{`Could not parse payload:  SyntaxError: Unexpected non-whitespace character after JSON at position 2 (line 1 column 3)`, false},
		{`Could not parse payload:  SyntaxError: Unexpected token 'q', "q83kLzAa"... is not valid JSON`, true},
		{`Could not parse payload:  SyntaxError: Unexpected token 'z', "zzzzzzzz"... is not valid JSON`, false},
		{`Could not parse payload:  SyntaxError: Unexpected end of JSON input`, false},
	}
	for _, c := range cases {
		if got := markerParseFailure(c.w, markers); got != c.want {
			t.Errorf("markerParseFailure(%q) = %v, want %v", c.w, got, c.want)
		}
	}
}
