package doctor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/runbookhq/runbook/internal/codec"
)

// sealed is one encrypted payload found in a recent history.
type sealed struct {
	workflowID string
	payload    *commonpb.Payload
}

// maxSealed bounds the payloads the check tries to open.
const maxSealed = 500

// checkCodec loads the keys and opens the encrypted payloads of the most
// recent histories with them: a key ID in a history that the keys file
// lacks means the Web UI, `runbook status` and replays cannot read it.
func checkCodec(ctx context.Context, cfg Config, tc client.Client) Result {
	samples, workflows, err := sampleSealed(ctx, cfg, tc)
	if err != nil {
		return Result{Check: CheckCodec, Status: Fail, Detail: fmt.Sprintf("read recent histories: %v", err)}
	}
	if cfg.CodecKeys == "" {
		return judgeNoKeys(samples, workflows)
	}
	getenv := func(k string) string {
		if k == codec.EnvKeys {
			return cfg.CodecKeys
		}
		return cfg.Getenv(k)
	}
	c, err := codec.FromEnv(getenv)
	if err != nil {
		return Result{Check: CheckCodec, Status: Fail, Detail: err.Error(),
			Fix: `write one ID=base64 line per key, the key for new payloads first: echo "k1=$(openssl rand -base64 32)" > keys && chmod 600 keys; RUNBOOK_CODEC_KEYS=file:$PWD/keys`}
	}
	return judgeKeys(c, samples, workflows)
}

// sampleSealed reads the first page of the newest workflows' histories and
// returns their encrypted payloads, newest workflow first, and how many
// workflows it read.
func sampleSealed(ctx context.Context, cfg Config, tc client.Client) ([]sealed, int, error) {
	list, err := tc.WorkflowService().ListWorkflowExecutions(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: cfg.Namespace, PageSize: int32(cfg.SampleWorkflows),
	})
	if err != nil {
		return nil, 0, err
	}
	var out []sealed
	for _, ex := range list.GetExecutions() {
		h, err := tc.WorkflowService().GetWorkflowExecutionHistory(ctx, &workflowservice.GetWorkflowExecutionHistoryRequest{
			Namespace: cfg.Namespace, Execution: ex.GetExecution(), MaximumPageSize: 200,
		})
		if err != nil {
			return nil, 0, fmt.Errorf("history of %s: %w", ex.GetExecution().GetWorkflowId(), err)
		}
		id := ex.GetExecution().GetWorkflowId()
		eachPayload(h.GetHistory().ProtoReflect(), func(p *commonpb.Payload) {
			if len(out) < maxSealed && string(p.GetMetadata()[converter.MetadataEncoding]) == codec.Encoding {
				out = append(out, sealed{workflowID: id, payload: p})
			}
		})
	}
	return out, len(list.GetExecutions()), nil
}

// judgeNoKeys: without keys, any encrypted payload is unreadable here.
func judgeNoKeys(samples []sealed, workflows int) Result {
	if len(samples) == 0 {
		return Result{Check: CheckCodec, Status: Skip,
			Detail: fmt.Sprintf("%s is not set; the %d newest workflows hold no encrypted payloads", codec.EnvKeys, workflows)}
	}
	return Result{Check: CheckCodec, Status: Fail,
		Detail: fmt.Sprintf("%s is not set, but recent histories hold payloads sealed with key(s) %s (e.g. workflow %s)",
			codec.EnvKeys, strings.Join(keyIDs(samples), ", "), samples[0].workflowID),
		Fix: codec.EnvKeys + "=file:/path/to/keys, the keys file the worker uses"}
}

// judgeKeys opens every sample; a key the file lacks or a key that does
// not open its payloads fails, a newest history sealed with another key
// than the file's first (the key for new payloads) warns.
func judgeKeys(c *codec.Codec, samples []sealed, workflows int) Result {
	var missing, wrong []sealed
	for _, s := range samples {
		_, err := c.Decode([]*commonpb.Payload{s.payload})
		switch {
		case errors.Is(err, codec.ErrUnknownKey):
			missing = append(missing, s)
		case err != nil:
			wrong = append(wrong, s)
		}
	}
	r := Result{Check: CheckCodec}
	switch {
	case len(missing) > 0:
		ids := keyIDs(missing)
		r.Status = Fail
		r.Detail = fmt.Sprintf("recent histories hold payloads sealed with key(s) %s, which %s lacks (e.g. workflow %s): the Web UI, runbook status and replays cannot read them",
			strings.Join(ids, ", "), codec.EnvKeys, missing[0].workflowID)
		lines := make([]string, len(ids))
		for i, id := range ids {
			lines[i] = id + "=<its base64 key>"
		}
		r.Fix = fmt.Sprintf("add %s to the keys file, after the first line: keep a retired key for as long as the namespace retains histories sealed with it", strings.Join(lines, " and "))
	case len(wrong) > 0:
		r.Status = Fail
		r.Detail = fmt.Sprintf("key(s) %s of %s do not open the payloads sealed under that ID (e.g. workflow %s): same ID, other key material",
			strings.Join(keyIDs(wrong), ", "), codec.EnvKeys, wrong[0].workflowID)
		r.Fix = "copy the worker's keys file; key IDs must never be reused for new key material"
	case len(samples) > 0 && keyID(newest(samples)) != c.KeyID():
		r.Status = Warn
		r.Detail = fmt.Sprintf("the newest payload (workflow %s) is sealed with key %s, but this keys file seals new payloads with %s: the worker's keys file differs",
			samples[0].workflowID, keyID(newest(samples)), c.KeyID())
		r.Fix = "use the worker's keys file here, or roll the new first key out to every worker"
	default:
		r.Status = OK
		r.Detail = fmt.Sprintf("keys load; new payloads are sealed with %s; %d encrypted payload(s) of the %d newest workflows open", c.KeyID(), len(samples), workflows)
	}
	return r
}

// newest is the last payload of the newest workflow (samples come newest
// workflow first, each in history order): what its workers sealed last.
func newest(samples []sealed) sealed {
	n := samples[0]
	for _, s := range samples[1:] {
		if s.workflowID != samples[0].workflowID {
			break
		}
		n = s
	}
	return n
}

func keyID(s sealed) string { return string(s.payload.GetMetadata()[codec.MetaKeyID]) }

// keyIDs are the distinct key IDs of samples, sorted.
func keyIDs(samples []sealed) []string {
	var ids []string
	for _, s := range samples {
		if !slices.Contains(ids, keyID(s)) {
			ids = append(ids, keyID(s))
		}
	}
	slices.Sort(ids)
	return ids
}
