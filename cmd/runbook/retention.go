package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/runbookhq/runbook/internal/doctor"
	"github.com/runbookhq/runbook/internal/releases"
)

// retentionHelp is the paragraph of the --help of the commands that read
// closed releases back from Temporal.
const retentionHelp = "Closed releases are read from Temporal, which deletes a closed workflow once the namespace's retention\n" +
	"has passed (the compose set-up keeps 90 days, RUNBOOK_RETENTION; a dev server one day unless told otherwise):\n" +
	"a range reaching further back misses the releases that ended before it, and the command warns.\n" +
	"runbook doctor prints the retention."

// warnRetention writes a warning to w when the namespace deletes closed
// workflows sooner than the range from since to now asks for. A namespace
// that cannot be described (no permission) is not an error: the command
// still runs, only unwarned.
func warnRetention(ctx context.Context, w io.Writer, rc *releases.Client, since, now time.Time) {
	resp, err := rc.Temporal.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: rc.Namespace})
	if err != nil {
		return
	}
	if msg := retentionWarning(rc.Namespace, resp.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(), since, now); msg != "" {
		fmt.Fprintln(w, msg)
	}
}

// retentionWarning is the warning for a range from since to now in a
// namespace of retention, or "" when the range fits.
func retentionWarning(namespace string, retention time.Duration, since, now time.Time) string {
	asked := now.Sub(since)
	if retention <= 0 || since.IsZero() || asked <= retention {
		return ""
	}
	days := (asked + 24*time.Hour - 1) / (24 * time.Hour)
	return fmt.Sprintf("warning: namespace %s keeps closed workflows for %s, so releases that ended before %s are gone and the range from %s is incomplete; "+
		"to keep them from now on: temporal operator namespace update --namespace %s --retention %dd",
		namespace, doctor.Days(retention), now.Add(-retention).Format(time.DateOnly), since.Format(time.DateOnly), namespace, days)
}
