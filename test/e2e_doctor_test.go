package test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/runbookhq/runbook/internal/codec"
	"github.com/runbookhq/runbook/internal/doctor"
	"github.com/runbookhq/runbook/internal/testenv"
	"github.com/runbookhq/runbook/internal/testenv/pg"
	"github.com/runbookhq/runbook/internal/testenv/slackfake"
)

// doctorSetup is a deployment for runbook doctor: its own namespace on the
// dev server, an audit database made by the compose init script, the Slack
// fake and a codec keys file.
type doctorSetup struct {
	t                     *testing.T
	ns, queue             string
	keysFile, oldKey, cur string
	ownerDSN, workerDSN   string
	slack                 *slackfake.Server
	env                   []string
	fixed                 bool
}

// TestDoctorE2E runs runbook doctor on a broken set-up (one-day retention,
// no search attributes, no worker, a keys file without the key of older
// histories, an audit role that may UPDATE and DELETE, a Slack token without
// channels:history), asserts each diagnosis and its fix, fixes the set-up
// (the Temporal part with the compose set-up script deploy/temporal/setup.sh)
// and asserts a clean bill.
func TestDoctorE2E(t *testing.T) {
	c := requireStack(t)
	temporalBin, err := findTemporal()
	if err != nil {
		t.Fatal(err)
	}
	d := newDoctorSetup(t, c)

	res, got := d.run()
	if res.code != 1 {
		t.Errorf("broken set-up: exit %d, want 1\n%s", res.code, res)
	}
	flags := fmt.Sprintf("--address %s --namespace %s", stack.server.Address, d.ns)
	d.expect(got, doctor.CheckServer, doctor.OK, "Temporal 1.", "")
	d.expect(got, doctor.CheckNamespace, doctor.Warn, "1d", "temporal operator namespace update "+flags+" --retention 90d")
	d.expect(got, doctor.CheckSearchAttributes, doctor.Fail, "missing: RunbookService", "temporal operator search-attribute create "+flags+" --name RunbookRisk --type Keyword")
	d.expect(got, doctor.CheckWorkers, doctor.Fail, "no worker polls task queue "+d.queue, "RUNBOOK_TASK_QUEUE="+d.queue+" runbook worker")
	d.expect(got, doctor.CheckCodec, doctor.Fail, "k-old, which RUNBOOK_CODEC_KEYS lacks", "k-old=<its base64 key>")
	d.expect(got, doctor.CheckAudit, doctor.Fail, "role runbook_worker may UPDATE, DELETE runbook_audit", "REVOKE UPDATE, DELETE ON runbook_audit FROM runbook_worker")
	d.expect(got, doctor.CheckSlack, doctor.Fail, "lacks channels:history", "add channels:history")
	d.expect(got, doctor.CheckOIDC, doctor.Skip, "not set", "")
	// The text form: one line per check, the fix below it.
	text := runCLIQuiet(d.env, "doctor")
	if text.code != 1 || !strings.Contains(text.stdout, "FAIL  audit-role") || !strings.Contains(text.stdout, "      fix: psql ") {
		t.Errorf("doctor (text) on the broken set-up:\n%s", text)
	}
	t.Logf("runbook doctor on the broken set-up:\n%s", text.stdout)
	d.expectRetentionWarning(true, "list", "--since", "7d")
	d.expectRetentionWarning(true, "metrics", "dora", "--service", "checkout", "--since", "30d")
	d.expectRetentionWarning(true, "report", "dora", "--service", "checkout", "--since", "90d", "-o", filepath.Join(t.TempDir(), "dora.html"))

	// Fix it as an SRE would: the compose set-up script (twice: it is
	// idempotent), the REVOKE doctor printed, the retired key back in the
	// file, a reinstalled Slack app and a worker.
	for range 2 {
		setup := exec.CommandContext(t.Context(), "sh", filepath.Join(moduleRoot(t), "deploy", "temporal", "setup.sh"))
		setup.Env = append(cleanEnviron(), "PATH="+filepath.Dir(temporalBin)+":"+os.Getenv("PATH"),
			"TEMPORAL_ADDRESS="+stack.server.Address, "TEMPORAL_NAMESPACE="+d.ns, "RUNBOOK_RETENTION=90d")
		if out, err := setup.CombinedOutput(); err != nil {
			t.Fatalf("deploy/temporal/setup.sh: %v\n%s", err, out)
		}
	}
	d.sql(d.ownerDSN, "REVOKE UPDATE, DELETE ON runbook_audit FROM runbook_worker")
	if err := os.WriteFile(d.keysFile, []byte(d.cur+"\n"+d.oldKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.slack.SetScopes(slackfake.DefaultScopes...)
	d.startWorker()
	// A release after the rotation: sealed with the key for new payloads.
	if _, err := d.dial(d.cur+"\n"+d.oldKey).ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{ID: "release/doctor/2", TaskQueue: "doctor-e2e-nobody"}, "Release", "checkout 1.0.1"); err != nil {
		t.Fatal(err)
	}

	d.fixed = true
	res, got = d.run()
	if res.code != 0 {
		t.Errorf("fixed set-up: exit %d, want 0\n%s", res.code, res)
	}
	d.expect(got, doctor.CheckNamespace, doctor.OK, "90d", "")
	d.expect(got, doctor.CheckSearchAttributes, doctor.OK, "7 search attributes", "")
	d.expect(got, doctor.CheckWorkers, doctor.OK, "doctor-e2e-worker", "")
	d.expect(got, doctor.CheckCodec, doctor.OK, "sealed with k-new", "")
	d.expect(got, doctor.CheckAudit, doctor.OK, "not UPDATE, DELETE or TRUNCATE", "")
	d.expect(got, doctor.CheckSlack, doctor.OK, "channels:history", "")
	d.expectRetentionWarning(false, "metrics", "dora", "--service", "checkout", "--since", "30d")
	d.expectRetentionWarning(true, "list", "--since", "120d")
}

// expectRetentionWarning runs a command that reads closed releases and
// asserts whether it warns that the namespace's retention is shorter than
// its range.
func (d *doctorSetup) expectRetentionWarning(want bool, args ...string) {
	d.t.Helper()
	res := runCLIQuiet(d.env, args...)
	// Before the fix the search attributes are missing, so the query
	// fails: after the warning, which is what the broken set-up shows.
	if d.fixed && res.code != 0 {
		d.t.Errorf("runbook %s: %s", strings.Join(args, " "), res)
		return
	}
	if got := strings.Contains(res.stderr, "warning: namespace "+d.ns+" keeps closed workflows for"); got != want {
		d.t.Errorf("runbook %s: retention warning %v, want %v\n%s", strings.Join(args, " "), got, want, res)
	}
}

func newDoctorSetup(t *testing.T, c client.Client) *doctorSetup {
	d := &doctorSetup{t: t, ns: fmt.Sprintf("doctor-e2e-%d", serial.Add(1)), queue: "doctor-e2e"}
	d.registerNamespace(c)

	d.oldKey, d.cur = keyLine(t, "k-old"), keyLine(t, "k-new")
	d.keysFile = filepath.Join(t.TempDir(), "codec-keys")
	if err := os.WriteFile(d.keysFile, []byte(d.cur+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A release started before the rotation: its input is sealed with k-old.
	old := d.dial(d.oldKey)
	if _, err := old.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{ID: "release/doctor/1", TaskQueue: "doctor-e2e-nobody"}, "Release", "checkout 1.0.0"); err != nil {
		t.Fatal(err)
	}

	srv := pg.StartForTest(t)
	const password = "worker-password-0123456789"
	psql := exec.CommandContext(t.Context(), filepath.Join(srv.Bin, "psql"), "-v", "ON_ERROR_STOP=1", "--no-psqlrc", "-d", srv.URL("postgres"),
		"-f", filepath.Join(moduleRoot(t), "deploy", "postgres", "10-runbook-audit.sql"))
	psql.Env = append(os.Environ(), "RUNBOOK_AUDIT_WORKER_PASSWORD="+password)
	if out, err := psql.CombinedOutput(); err != nil {
		t.Fatalf("audit init script: %v\n%s", err, out)
	}
	d.ownerDSN = srv.URL("runbook_audit")
	d.workerDSN = strings.Replace(d.ownerDSN, url.UserPassword(srv.User, srv.Password).String(), url.UserPassword("runbook_worker", password).String(), 1)
	d.sql(d.ownerDSN, "GRANT UPDATE, DELETE ON runbook_audit TO runbook_worker")

	const token = "xoxb-doctor-e2e-0123456789"
	d.slack = slackfake.New(token)
	t.Cleanup(d.slack.Stop)
	d.slack.SetScopes("chat:write")

	d.env = append(cleanEnviron(),
		"TEMPORAL_ADDRESS="+stack.server.Address, "TEMPORAL_NAMESPACE="+d.ns,
		"TEMPORAL_CONFIG_FILE="+filepath.Join(t.TempDir(), "no-temporal-config.toml"),
		"RUNBOOK_TASK_QUEUE="+d.queue, codec.EnvKeys+"=file:"+d.keysFile,
		"RUNBOOK_AUDIT_DSN="+d.workerDSN, "SLACK_BOT_TOKEN="+token, "RUNBOOK_SLACK_API_URL="+d.slack.URL())
	return d
}

// registerNamespace makes the namespace with a one-day retention and waits
// until the frontend serves it (its namespace cache refreshes on a timer).
func (d *doctorSetup) registerNamespace(c client.Client) {
	ctx, cancel := context.WithTimeout(d.t.Context(), time.Minute)
	defer cancel()
	if _, err := c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: d.ns, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
	}); err != nil {
		d.t.Fatal(err)
	}
	start := time.Now()
	err := testenv.Poll(ctx, func(ctx context.Context) (bool, error) {
		_, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: d.ns})
		if err != nil {
			return false, nil
		}
		_, err = c.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{Namespace: d.ns, TaskQueue: &taskqueuepb.TaskQueue{Name: d.queue}})
		return err == nil, nil
	})
	if err != nil {
		d.t.Fatalf("namespace %s not served: %v", d.ns, err)
	}
	d.t.Logf("namespace %s served after %s", d.ns, time.Since(start).Round(time.Millisecond))
}

// dial connects to the namespace with a codec of keys.
func (d *doctorSetup) dial(keys string) client.Client {
	cd, err := codec.New(keys)
	if err != nil {
		d.t.Fatal(err)
	}
	c, err := client.DialContext(d.t.Context(), client.Options{HostPort: stack.server.Address, Namespace: d.ns, Logger: quietLogger{},
		DataConverter: converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), cd)})
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(c.Close)
	return c
}

// startWorker polls the task queue for workflow and activity tasks and
// waits until the server lists both pollers.
func (d *doctorSetup) startWorker() {
	c := d.dial(d.cur + "\n" + d.oldKey)
	w := worker.New(c, d.queue, worker.Options{Identity: "doctor-e2e-worker"})
	w.RegisterWorkflowWithOptions(func(workflow.Context) error { return nil }, workflow.RegisterOptions{Name: "DoctorNoop"})
	w.RegisterActivity(func(context.Context) error { return nil })
	if err := w.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(w.Stop)
	ctx, cancel := context.WithTimeout(d.t.Context(), time.Minute)
	defer cancel()
	err := testenv.Poll(ctx, func(ctx context.Context) (bool, error) {
		for _, tt := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
			resp, err := c.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
				Namespace: d.ns, TaskQueue: &taskqueuepb.TaskQueue{Name: d.queue}, TaskQueueType: tt})
			if err != nil || len(resp.GetPollers()) == 0 {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		d.t.Fatalf("the worker's pollers never showed: %v", err)
	}
}

// run runs runbook doctor --json and returns its results by check.
func (d *doctorSetup) run() (result, map[string]doctor.Result) {
	res := runCLIQuiet(d.env, "doctor", "--json")
	var list []doctor.Result
	if err := json.Unmarshal([]byte(res.stdout), &list); err != nil {
		d.t.Fatalf("doctor --json: %v\n%s", err, res)
	}
	got := map[string]doctor.Result{}
	for _, r := range list {
		got[r.Check] = r
	}
	return res, got
}

// expect asserts one check's status, that its detail holds detail and its
// fix holds fix.
func (d *doctorSetup) expect(got map[string]doctor.Result, check string, status doctor.Status, detail, fix string) {
	d.t.Helper()
	r, ok := got[check]
	switch {
	case !ok:
		d.t.Errorf("no %s check in the output", check)
	case r.Status != status || !strings.Contains(r.Detail, detail) || !strings.Contains(r.Fix, fix):
		d.t.Errorf("%s: %s %q (fix %q); want %s with %q (fix with %q)", check, r.Status, r.Detail, r.Fix, status, detail, fix)
	}
}

// sql runs one statement.
func (d *doctorSetup) sql(dsn, stmt string) {
	d.t.Helper()
	conn, err := pgx.Connect(d.t.Context(), dsn)
	if err != nil {
		d.t.Fatal(err)
	}
	defer conn.Close(d.t.Context())
	if _, err := conn.Exec(d.t.Context(), stmt); err != nil {
		d.t.Fatalf("%s: %v", stmt, err)
	}
}

// keyLine is a fresh codec key line.
func keyLine(t *testing.T, id string) string {
	b := make([]byte, codec.KeySize)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return id + "=" + base64.StdEncoding.EncodeToString(b)
}
