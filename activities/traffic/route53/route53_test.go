package route53

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/internal/testenv/moto"
)

const record = "api.example.com."

// setup creates a hosted zone in moto with two weighted A records for
// record, blue (10.0.0.1, weight 50) and green (10.0.0.2, weight 50), plus
// an unrelated record, and returns the options a runbook would give.
func setup(t *testing.T) (*r53.Client, map[string]string) {
	t.Helper()
	srv := moto.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := r53.NewFromConfig(srv.Config())
	hz, err := c.CreateHostedZone(ctx, &r53.CreateHostedZoneInput{Name: aws.String("example.com"), CallerReference: aws.String("runbook-test")})
	if err != nil {
		t.Fatal(err)
	}
	zone := strings.TrimPrefix(aws.ToString(hz.HostedZone.Id), "/hostedzone/")
	var changes []types.Change
	for _, b := range []struct{ set, ip string }{{"blue", "10.0.0.1"}, {"green", "10.0.0.2"}} {
		changes = append(changes, types.Change{Action: types.ChangeActionCreate, ResourceRecordSet: &types.ResourceRecordSet{
			Name: aws.String(record), Type: types.RRTypeA, TTL: aws.Int64(30), SetIdentifier: aws.String(b.set + "-v1"),
			Weight: aws.Int64(50), ResourceRecords: []types.ResourceRecord{{Value: aws.String(b.ip)}},
		}})
	}
	changes = append(changes, types.Change{Action: types.ChangeActionCreate, ResourceRecordSet: &types.ResourceRecordSet{
		Name: aws.String("www.example.com."), Type: types.RRTypeCname, TTL: aws.Int64(300),
		ResourceRecords: []types.ResourceRecord{{Value: aws.String(record)}},
	}})
	if _, err := c.ChangeResourceRecordSets(ctx, &r53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(zone), ChangeBatch: &types.ChangeBatch{Changes: changes},
	}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", moto.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", moto.SecretAccessKey)
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	return c, map[string]string{
		OptHostedZoneID: zone, OptRecordName: "api.example.com", OptEndpoint: srv.URL,
		"set.blue": "blue-v1", "set.green": "green-v1",
	}
}

func TestAgainstMoto(t *testing.T) {
	c, opts := setup(t)
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if w, err := r.Weights(ctx); err != nil || w["blue"] != 50 || w["green"] != 50 {
		t.Fatalf("initial weights %v, %v; want 50/50", w, err)
	}
	if err := r.SetWeights(ctx, map[string]int{"blue": 80, "green": 20}); err != nil {
		t.Fatal(err)
	}
	if w, err := r.Weights(ctx); err != nil || w["blue"] != 80 || w["green"] != 20 {
		t.Fatalf("weights %v, %v; want 80/20", w, err)
	}
	if n, err := r.Drain(ctx, "blue", time.Minute); err != nil || n != 0 {
		t.Fatalf("Drain = %d, %v; want 0", n, err)
	}
	if w, _ := r.Weights(ctx); w["blue"] != 0 || w["green"] != 20 {
		t.Fatalf("after drain %v; want blue 0, green 20", w)
	}
	// The records keep their values and TTL; nothing was added or lost.
	out, err := c.ListResourceRecordSets(ctx, &r53.ListResourceRecordSetsInput{HostedZoneId: aws.String(opts[OptHostedZoneID])})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, rs := range out.ResourceRecordSets {
		if aws.ToString(rs.Name) != record {
			continue
		}
		n++
		ip := map[string]string{"blue-v1": "10.0.0.1", "green-v1": "10.0.0.2"}[aws.ToString(rs.SetIdentifier)]
		if aws.ToInt64(rs.TTL) != 30 || len(rs.ResourceRecords) != 1 || aws.ToString(rs.ResourceRecords[0].Value) != ip {
			t.Errorf("record %s changed: TTL %d, %+v", aws.ToString(rs.SetIdentifier), aws.ToInt64(rs.TTL), rs.ResourceRecords)
		}
	}
	if n != 2 {
		t.Errorf("%d records named %s, want 2", n, record)
	}

	for _, bad := range []map[string]int{{"purple": 10}, {"blue": 101}, {"green": -1}} {
		if err := r.SetWeights(ctx, bad); !isInvalid(err) {
			t.Errorf("SetWeights(%v) = %v; want %s", bad, err, ErrTypeInvalid)
		}
	}
}

func TestMissingRecordOrType(t *testing.T) {
	_, opts := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts["set.grey"] = "grey-v1"
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Weights(ctx); !isInvalid(err) || !strings.Contains(err.Error(), `"grey-v1"`) {
		t.Fatalf("Weights with a missing record = %v; want %s naming grey-v1", err, ErrTypeInvalid)
	}
	delete(opts, "set.grey")
	opts[OptRecordType] = "cname"
	r, err = New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetWeights(ctx, map[string]int{"blue": 10}); !isInvalid(err) {
		t.Fatalf("SetWeights on the wrong type = %v; want %s", err, ErrTypeInvalid)
	}
}

func TestOptions(t *testing.T) {
	good := map[string]string{OptHostedZoneID: "Z1", OptRecordName: "api.example.com", "set.blue": "b"}
	for _, tc := range []struct {
		name string
		edit func(map[string]string)
		want string
	}{
		{"no zone", func(o map[string]string) { delete(o, OptHostedZoneID) }, "hosted-zone-id is required"},
		{"no name", func(o map[string]string) { delete(o, OptRecordName) }, "record-name is required"},
		{"no backends", func(o map[string]string) { delete(o, "set.blue") }, "no backends"},
		{"unknown option", func(o map[string]string) { o["ttl"] = "1" }, `unknown option "ttl"`},
		{"bad type", func(o map[string]string) { o[OptRecordType] = "ALIAS" }, "not a record type"},
		{"empty set", func(o map[string]string) { o["set.green"] = "" }, "SetIdentifier"},
	} {
		opts := map[string]string{}
		for k, v := range good {
			opts[k] = v
		}
		tc.edit(opts)
		_, err := New(opts)
		if !isInvalid(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want %s containing %q", tc.name, err, ErrTypeInvalid, tc.want)
		}
	}
}

func isInvalid(err error) bool {
	var ae *temporal.ApplicationError
	return errors.As(err, &ae) && ae.Type() == ErrTypeInvalid && ae.NonRetryable()
}
