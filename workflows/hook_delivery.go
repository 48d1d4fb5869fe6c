package workflows

import "go.temporal.io/sdk/workflow"

// HookDeliveryWorkflowName is the workflow type of a webhook delivery's
// record (internal/hooks): its workflow ID is the deduplication key.
const HookDeliveryWorkflowName = "HookDelivery"

// DeliveryRecord says which release a webhook delivery started.
type DeliveryRecord struct {
	Trigger    string `json:"trigger"`
	Source     string `json:"source"`
	DeliveryID string `json:"delivery-id"`
	ReleaseID  string `json:"release-id"`
	RunID      string `json:"run-id"`
}

// HookDelivery is a delivery record: its input is the record, so it only
// completes. It emits no commands, so it never needs a version marker.
func HookDelivery(_ workflow.Context, rec DeliveryRecord) (DeliveryRecord, error) {
	return rec, nil
}
