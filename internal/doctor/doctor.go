// Package doctor checks a runbook deployment end to end, the way an SRE
// would by hand: the Temporal server and namespace, the search attributes,
// the workers polling, the codec keys against recent histories, the audit
// store's role, the Slack token's scopes and the OIDC issuer. Each check
// says what it found and, when something is wrong, the command that fixes
// it, so `runbook doctor` can be the first thing run on a new set-up and
// the last thing run after changing one.
package doctor

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/activities/audit"
)

// Status is a check's verdict.
type Status string

// The verdicts, from good to bad. Skip means the part is not configured
// (no Slack token, no audit database) or could not be reached because an
// earlier check failed.
const (
	OK   Status = "ok"
	Skip Status = "skip"
	Warn Status = "warn"
	Fail Status = "fail"
)

// MinRetention is the namespace retention the doctor asks for: a quarter of
// releases for the DORA metrics and `runbook list`, which read closed
// workflows from Temporal and so see no further back than the retention.
const MinRetention = 90 * 24 * time.Hour

// Result is one check's outcome.
type Result struct {
	// Check names the check, e.g. "namespace".
	Check string `json:"check"`
	// Status is the verdict.
	Status Status `json:"status"`
	// Detail says what was found: the good news too, e.g. the version.
	Detail string `json:"detail"`
	// Fix, when the status is warn or fail, is what to run or do.
	Fix string `json:"fix,omitempty"`
}

// Config is what the doctor checks against: the settings the worker reads,
// so run it with the worker's environment.
type Config struct {
	// Address and Namespace are the Temporal frontend and namespace.
	Address, Namespace string
	// TaskQueue is the queue the workers should poll (RUNBOOK_TASK_QUEUE).
	TaskQueue string
	// DeploymentName, when set, is the Worker Deployment the workers belong
	// to (RUNBOOK_DEPLOYMENT_NAME).
	DeploymentName string
	// CodecKeys is RUNBOOK_CODEC_KEYS's reference (env:NAME or file:PATH);
	// empty when payloads are not encrypted.
	CodecKeys string
	// Getenv resolves CodecKeys' env: references (default os.Getenv).
	Getenv func(string) string
	// SampleWorkflows is how many recent workflows' histories the codec
	// check reads (default 20).
	SampleWorkflows int
	// AuditDSN is the worker's audit database (RUNBOOK_AUDIT_DSN); empty
	// for the file log. AuditDSNErr is why it could not be read
	// (RUNBOOK_AUDIT_DSN_FILE unreadable), reported by the audit check.
	AuditDSN    audit.DSN
	AuditDSNErr error
	// SlackToken is the bot token (SLACK_BOT_TOKEN); SlackAPIURL the API
	// base URL (RUNBOOK_SLACK_API_URL, default https://slack.com/api/);
	// SlackGroups whether RUNBOOK_SLACK_GROUPS is set, which needs one more
	// scope.
	SlackToken, SlackAPIURL string
	SlackGroups             bool
	// SlackTokenErr is why the token could not be read (both variables
	// set, an unreadable file), reported by the Slack check.
	SlackTokenErr error
	// OIDCIssuer and OIDCJWKS are RUNBOOK_OIDC_ISSUER and RUNBOOK_OIDC_JWKS.
	OIDCIssuer, OIDCJWKS string
	// HTTP is the client for Slack and OIDC (default: 10 s timeout).
	HTTP *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Run runs every check in order and returns their results. tc is nil when
// the client could not be made; dialErr then says why, and the checks that
// need Temporal are skipped.
func Run(ctx context.Context, cfg Config, tc client.Client, dialErr error) []Result {
	cfg = cfg.withDefaults()
	var out []Result
	server := checkServer(ctx, cfg, tc, dialErr)
	out = append(out, server)
	if server.Status == Fail {
		for _, name := range []string{CheckNamespace, CheckSearchAttributes, CheckWorkers, CheckCodec} {
			out = append(out, Result{Check: name, Status: Skip, Detail: "the server is not reachable"})
		}
	} else {
		ns, exists := checkNamespace(ctx, cfg, tc)
		out = append(out, ns)
		if !exists {
			for _, name := range []string{CheckSearchAttributes, CheckWorkers, CheckCodec} {
				out = append(out, Result{Check: name, Status: Skip, Detail: "the namespace does not exist"})
			}
		} else {
			out = append(out, checkSearchAttributes(ctx, cfg, tc), checkWorkers(ctx, cfg, tc), checkCodec(ctx, cfg, tc))
		}
	}
	return append(out, checkAudit(ctx, cfg), checkSlack(ctx, cfg), checkOIDC(ctx, cfg))
}

func (c Config) withDefaults() Config {
	if c.Getenv == nil {
		c.Getenv = os.Getenv
	}
	if c.SampleWorkflows <= 0 {
		c.SampleWorkflows = 20
	}
	if c.HTTP == nil {
		c.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.SlackAPIURL == "" {
		c.SlackAPIURL = "https://slack.com/api/"
	}
	return c
}

// Worst is the worst status of results: what the exit code reports.
func Worst(results []Result) Status {
	rank := map[Status]int{OK: 0, Skip: 0, Warn: 1, Fail: 2}
	worst := OK
	for _, r := range results {
		if rank[r.Status] > rank[worst] {
			worst = r.Status
		}
	}
	return worst
}

// ExitCode is 0 when nothing is wrong, 1 when a check failed and 2 when the
// worst is a warning, so a script can tell "broken" from "risky".
func ExitCode(results []Result) int {
	switch Worst(results) {
	case Fail:
		return 1
	case Warn:
		return 2
	}
	return 0
}

// WriteText prints results one per line, with the fix indented below a
// check that is not OK.
func WriteText(w io.Writer, results []Result) error {
	for _, r := range results {
		if _, err := fmt.Fprintf(w, "%-4s  %-17s  %s\n", strings.ToUpper(string(r.Status)), r.Check, r.Detail); err != nil {
			return err
		}
		if r.Fix != "" {
			for _, line := range strings.Split(r.Fix, "\n") {
				if _, err := fmt.Fprintf(w, "      fix: %s\n", line); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
