package doctor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/workflows"
)

// The check names, as printed and in --json.
const (
	CheckServer           = "server"
	CheckNamespace        = "namespace"
	CheckSearchAttributes = "search-attributes"
	CheckWorkers          = "workers"
	CheckCodec            = "codec"
	CheckAudit            = "audit-role"
	CheckSlack            = "slack-scopes"
	CheckOIDC             = "oidc-issuer"
)

// temporalFlags are the connection flags of the temporal CLI commands the
// fixes print.
func (c Config) temporalFlags() string {
	return fmt.Sprintf("--address %s --namespace %s", c.Address, c.Namespace)
}

// checkServer reports whether the frontend answers, and its version.
func checkServer(ctx context.Context, cfg Config, tc client.Client, dialErr error) Result {
	r := Result{Check: CheckServer}
	if tc == nil || dialErr != nil {
		r.Status, r.Detail = Fail, fmt.Sprintf("cannot reach Temporal at %s: %v", cfg.Address, dialErr)
		r.Fix = "start the server (docker compose up -d temporal, or runbook dev), or point at it: TEMPORAL_ADDRESS=host:7233 runbook doctor"
		return r
	}
	if _, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		r.Status, r.Detail = Fail, fmt.Sprintf("Temporal at %s is not serving: %v", cfg.Address, err)
		r.Fix = "see the server's log (docker compose logs temporal)"
		return r
	}
	info, err := tc.WorkflowService().GetSystemInfo(ctx, &workflowservice.GetSystemInfoRequest{})
	if err != nil {
		r.Status, r.Detail = Fail, fmt.Sprintf("Temporal at %s answers the health check but not GetSystemInfo: %v", cfg.Address, err)
		return r
	}
	r.Status, r.Detail = OK, fmt.Sprintf("Temporal %s at %s", orUnknown(info.GetServerVersion()), cfg.Address)
	return r
}

func orUnknown(s string) string {
	if s == "" {
		return "(version not reported)"
	}
	return s
}

// checkNamespace reports whether the namespace exists and how long it keeps
// closed workflows; exists is false only when the server says it does not.
func checkNamespace(ctx context.Context, cfg Config, tc client.Client) (r Result, exists bool) {
	resp, err := tc.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: cfg.Namespace})
	var notFound *serviceerror.NamespaceNotFound
	var notFound2 *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound) || errors.As(err, &notFound2):
		return Result{Check: CheckNamespace, Status: Fail, Detail: fmt.Sprintf("namespace %s does not exist", cfg.Namespace),
			Fix: fmt.Sprintf("temporal operator namespace create %s --retention 90d", cfg.temporalFlags())}, false
	case err != nil:
		return Result{Check: CheckNamespace, Status: Fail, Detail: fmt.Sprintf("describe namespace %s: %v", cfg.Namespace, err)}, true
	}
	return judgeRetention(cfg, resp.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration()), true
}

// judgeRetention warns when the namespace forgets closed releases before
// MinRetention: DORA and `runbook list` then see less than they are asked.
func judgeRetention(cfg Config, retention time.Duration) Result {
	r := Result{Check: CheckNamespace, Status: OK,
		Detail: fmt.Sprintf("namespace %s keeps closed workflows for %s", cfg.Namespace, Days(retention))}
	if retention < MinRetention {
		r.Status = Warn
		r.Detail += fmt.Sprintf(", under %s: runbook list and the DORA metrics cannot look back further", Days(MinRetention))
		r.Fix = fmt.Sprintf("temporal operator namespace update %s --retention 90d   (compose: RUNBOOK_RETENTION=90d docker compose up -d temporal-setup)", cfg.temporalFlags())
	}
	return r
}

// Days prints a retention in days, as the temporal CLI takes it.
func Days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// checkSearchAttributes reports whether runbook's search attributes are
// registered, all as Keyword: `runbook list` and the DORA metrics query them.
func checkSearchAttributes(ctx context.Context, cfg Config, tc client.Client) Result {
	resp, err := tc.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: cfg.Namespace})
	if err != nil {
		return Result{Check: CheckSearchAttributes, Status: Fail, Detail: fmt.Sprintf("list search attributes: %v", err)}
	}
	return judgeSearchAttributes(cfg, resp.GetCustomAttributes())
}

// judgeSearchAttributes compares the registered attributes with
// workflows.SearchAttributeNames. One of another type must be removed
// before it can be created again as Keyword.
func judgeSearchAttributes(cfg Config, have map[string]enumspb.IndexedValueType) Result {
	var absent, wrong, create, fixes []string
	for _, name := range workflows.SearchAttributeNames {
		t, ok := have[name]
		switch {
		case !ok:
			absent = append(absent, name)
		case t != enumspb.INDEXED_VALUE_TYPE_KEYWORD:
			wrong = append(wrong, fmt.Sprintf("%s is %s", name, typeName(t)))
			fixes = append(fixes, fmt.Sprintf("temporal operator search-attribute remove %s --name %s --yes", cfg.temporalFlags(), name))
		default:
			continue
		}
		// One name a command: temporal CLI 1.5 registers only the first of several.
		create = append(create, fmt.Sprintf("temporal operator search-attribute create %s --name %s --type Keyword", cfg.temporalFlags(), name))
	}
	if len(create) == 0 {
		return Result{Check: CheckSearchAttributes, Status: OK,
			Detail: fmt.Sprintf("%d search attributes registered as Keyword", len(workflows.SearchAttributeNames))}
	}
	var why []string
	if len(absent) > 0 {
		why = append(why, "missing: "+strings.Join(absent, ", "))
	}
	if len(wrong) > 0 {
		why = append(why, "not Keyword: "+strings.Join(wrong, ", "))
	}
	fixes = append(fixes, create...)
	return Result{Check: CheckSearchAttributes, Status: Fail,
		Detail: strings.Join(why, "; ") + " (runbook list, status and the DORA metrics query them)",
		Fix:    strings.Join(fixes, "\n")}
}

// typeName is a search attribute type as the temporal CLI spells it.
func typeName(t enumspb.IndexedValueType) string {
	return strings.TrimPrefix(t.String(), "IndexedValueType")
}
