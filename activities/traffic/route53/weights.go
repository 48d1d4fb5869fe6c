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
)

// SetWeights UPSERTs every named backend's record set in one change batch
// with only its Weight changed (values, TTL, alias target and health check
// kept as read), then reads the records back and fails unless every weight
// took effect.
func (r *Router) SetWeights(ctx context.Context, weights map[string]int) error {
	for name, w := range weights {
		if _, ok := r.backends[name]; !ok {
			return invalid("route53: unknown backend %q; known: %s (add option %s%s=<SetIdentifier>)",
				name, strings.Join(r.names(), ", "), OptBackendPrefix, name)
		}
		if w < 0 || w > MaxWeight {
			return invalid("route53: backend %q: weight %d out of range 0..%d", name, w, MaxWeight)
		}
	}
	sets, err := r.records(ctx)
	if err != nil {
		return err
	}
	var changes []types.Change
	for _, name := range sortedKeys(weights) {
		rs, ok := sets[name]
		if !ok {
			return invalid("route53: backend %q: no weighted %s record %s with SetIdentifier %q in zone %s; create it first",
				name, r.typeName(), r.name, r.backends[name], r.zone)
		}
		rs.Weight = aws.Int64(int64(weights[name]))
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
	return verify(r.String(), weights, got)
}

// Weights reports every backend's weight; a backend without a record fails,
// as the runbook names a record that does not exist.
func (r *Router) Weights(ctx context.Context) (map[string]int, error) {
	sets, err := r.records(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(r.backends))
	for _, name := range r.names() {
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

// verify lists mismatches in name order, so the message is stable.
func verify(where string, want, got map[string]int) error {
	var bad []string
	for _, name := range sortedKeys(want) {
		if g, ok := got[name]; !ok || g != want[name] {
			bad = append(bad, fmt.Sprintf("%s=%d (read back %d)", name, want[name], g))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%s: weights did not take effect: %s; another writer may be changing them", where, strings.Join(bad, ", "))
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
