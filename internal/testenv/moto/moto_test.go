package moto

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestStartAndQuery(t *testing.T) {
	s := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// moto creates a default VPC with one subnet per zone in every region.
	vpc, subnets, err := s.DefaultVPC(ctx)
	if err != nil || !strings.HasPrefix(vpc, "vpc-") || len(subnets) < 2 {
		t.Fatalf("DefaultVPC = %q, %v, %v; want a vpc and two or more subnets", vpc, subnets, err)
	}
	if _, err := s.Query(ctx, "ec2", url.Values{"Action": {"NoSuchAction"}, "Version": {"2016-11-15"}}); err == nil {
		t.Fatal("unknown action: no error")
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if s.answers(ctx) {
		t.Fatal("moto_server still answers after Stop")
	}
}
