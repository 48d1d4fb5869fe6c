package hooks

import "go.temporal.io/sdk/workflow"

// DeliveryWorkflowName is the workflow type of a delivery record.
const DeliveryWorkflowName = "HookDelivery"

// DeliveryRecord says which release a webhook delivery started.
type DeliveryRecord struct {
	Trigger    string `json:"trigger"`
	Source     string `json:"source"`
	DeliveryID string `json:"delivery-id"`
	ReleaseID  string `json:"release-id"`
	RunID      string `json:"run-id"`
}

// DeliveryWorkflow is the delivery record: its workflow ID is the
// deduplication key and its input the record, so it only completes. It
// emits no commands, so it never needs a version marker.
func DeliveryWorkflow(_ workflow.Context, rec DeliveryRecord) (DeliveryRecord, error) {
	return rec, nil
}
