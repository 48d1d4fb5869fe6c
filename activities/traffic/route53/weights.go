package route53

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/runbookhq/runbook/activities/traffic/weights"
)

// SetWeights UPSERTs every named backend's record set in one change batch
// with only its Weight changed (values, TTL, alias target and health check
// kept as read), then reads the records back and fails unless every weight
// took effect.
func (r *Router) SetWeights(ctx context.Context, want map[string]int) error {
	if msg := weights.Check("route53", r.backends, want, MaxWeight, func(name string) string {
		return "add option " + OptBackendPrefix + name + "=<SetIdentifier>"
	}); msg != "" {
		return invalid("%s", msg)
	}
	sets, err := r.records(ctx)
	if err != nil {
		return err
	}
	var changes []types.Change
	for _, name := range weights.Names(want) {
		rs, ok := sets[name]
		if !ok {
			return invalid("route53: backend %q: no weighted %s record %s with SetIdentifier %q in zone %s; create it first",
				name, r.typeName(), r.name, r.backends[name], r.zone)
		}
		rs.Weight = aws.Int64(int64(want[name]))
		changes = append(changes, types.Change{Action: types.ChangeActionUpsert, ResourceRecordSet: &rs})
	}
	if len(changes) == 0 {
		return nil
	}
	_, err = r.client.ChangeResourceRecordSets(ctx, &r53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(r.zone),
		ChangeBatch:  &types.ChangeBatch{Comment: aws.String("runbook: set weights"), Changes: changes},
	})
	if err != nil {
		return classify("changing weights of "+r.name, err)
	}
	got, err := r.Weights(ctx)
	if err != nil {
		return fmt.Errorf("route53: weights sent, but reading them back failed: %w", err)
	}
	return weights.Verify(r.String(), want, got)
}

// Weights reports every backend's weight; a backend without a record fails,
// as the runbook names a record that does not exist.
func (r *Router) Weights(ctx context.Context) (map[string]int, error) {
	sets, err := r.records(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(r.backends))
	for _, name := range weights.Names(r.backends) {
		rs, ok := sets[name]
		if !ok {
			return nil, invalid("route53: backend %q: no weighted %s record %s with SetIdentifier %q in zone %s",
				name, r.typeName(), r.name, r.backends[name], r.zone)
		}
		out[name] = int(aws.ToInt64(rs.Weight))
	}
	return out, nil
}

// Drain sets the backend's weight to 0 and returns 0 at once: DNS cannot
// count connections, and clients keep resolving the old answer for up to
// the record's TTL. Wait that long in the runbook if it matters.
func (r *Router) Drain(ctx context.Context, backend string, timeout time.Duration) (int, error) {
	if timeout < 0 {
		return 0, invalid("route53: drain %q: negative timeout %s", backend, timeout)
	}
	return 0, r.SetWeights(ctx, map[string]int{backend: 0})
}

// records lists the weighted record sets of the name, keyed by backend name.
func (r *Router) records(ctx context.Context) (map[string]types.ResourceRecordSet, error) {
	bySet := map[string]string{}
	for name, id := range r.backends {
		bySet[id] = name
	}
	in := &r53.ListResourceRecordSetsInput{HostedZoneId: aws.String(r.zone), StartRecordName: aws.String(r.name)}
	if r.recordType != "" {
		in.StartRecordType = r.recordType
	}
	out := map[string]types.ResourceRecordSet{}
	seen := map[types.RRType]bool{}
	want := canonical(r.name)
	matched := false
	for {
		page, err := r.client.ListResourceRecordSets(ctx, in)
		if err != nil {
			return nil, classify("listing records of "+r.name, err)
		}
		for _, rs := range page.ResourceRecordSets {
			if canonical(aws.ToString(rs.Name)) != want {
				if matched {
					// Route 53 lists a name's records together: the rest are other names.
					return out, r.oneType(seen)
				}
				continue
			}
			matched = true
			name, ok := bySet[aws.ToString(rs.SetIdentifier)]
			if !ok || rs.Weight == nil || !r.typeMatches(rs.Type) {
				continue
			}
			out[name] = rs
			seen[rs.Type] = true
		}
		if !page.IsTruncated {
			return out, r.oneType(seen)
		}
		if aws.ToString(page.NextRecordName) == aws.ToString(in.StartRecordName) && page.NextRecordType == in.StartRecordType &&
			aws.ToString(page.NextRecordIdentifier) == aws.ToString(in.StartRecordIdentifier) {
			return nil, fmt.Errorf("route53: listing records of %s: the next page starts where this one did", r.name)
		}
		in.StartRecordName, in.StartRecordType, in.StartRecordIdentifier = page.NextRecordName, page.NextRecordType, page.NextRecordIdentifier
	}
}

func (r *Router) typeMatches(t types.RRType) bool {
	if r.recordType != "" {
		return t == r.recordType
	}
	return autoTypes[t]
}

// oneType fails when, with no record-type option, backends' records differ in type.
func (r *Router) oneType(seen map[types.RRType]bool) error {
	if len(seen) <= 1 {
		return nil
	}
	var ts []string
	for t := range seen {
		ts = append(ts, string(t))
	}
	sort.Strings(ts)
	return invalid("route53: weighted records of %s have types %s: set option %s", r.name, strings.Join(ts, ", "), OptRecordType)
}

func (r *Router) typeName() string {
	if r.recordType == "" {
		return "A/AAAA/CNAME"
	}
	return string(r.recordType)
}

// canonical compares names as Route 53 does: case-insensitive, trailing dot optional.
func canonical(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}
