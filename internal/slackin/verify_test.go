package slackin

import (
	"errors"
	"io"
	"testing"
	"time"

	slackacts "github.com/runbookhq/runbook/activities/slack"
)

// TestVerifyRefusesEmptySecret signs a request with the empty key, which
// anyone can compute: verify itself must refuse it, whatever its caller
// checked before, so no path that forgets the check accepts forged clicks.
func TestVerifyRefusesEmptySecret(t *testing.T) {
	now := time.Now()
	r := signed(t, "", now, button("U0BOB", slackacts.ActionApprove, "1"))
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(r.Header, body, "", now); !errors.Is(err, errNoSecret) {
		t.Fatalf("empty secret: verify returned %v, want errNoSecret", err)
	}
	// The same request signed with a real secret still verifies, so the
	// guard is about the secret, not the request.
	r = signed(t, secret, now, button("U0BOB", slackacts.ActionApprove, "1"))
	if body, err = io.ReadAll(r.Body); err != nil {
		t.Fatal(err)
	}
	if err := verify(r.Header, body, secret, now); err != nil {
		t.Fatalf("real secret: %v", err)
	}
}
