package alb_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/activities/traffic"
	"github.com/runbookhq/runbook/activities/traffic/alb"
)

func TestErrorTypesAgree(t *testing.T) {
	if alb.ErrTypeInvalid != traffic.ErrTypeInvalid {
		t.Fatalf("alb.ErrTypeInvalid %q != %q", alb.ErrTypeInvalid, traffic.ErrTypeInvalid)
	}
}

// TestThroughFactory builds the router by name, as the activities do.
func TestThroughFactory(t *testing.T) {
	r, err := traffic.New("alb", alb.MotoOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.SetWeights(ctx, map[string]int{"blue": 80, "green": 20}); err != nil {
		t.Fatal(err)
	}
	if w, err := r.Weights(ctx); err != nil || w["blue"] != 80 || w["green"] != 20 {
		t.Fatalf("weights %v, %v; want 80/20", w, err)
	}
	err = r.SetWeights(ctx, map[string]int{"purple": 10})
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.Type() != traffic.ErrTypeInvalid || !ae.NonRetryable() {
		t.Fatalf("unknown backend: %v; want non-retryable %s", err, traffic.ErrTypeInvalid)
	}
	if _, err := traffic.New("alb", nil); !errors.As(err, &ae) || ae.Type() != traffic.ErrTypeInvalid {
		t.Fatalf("no options: %v; want %s", err, traffic.ErrTypeInvalid)
	}
}
