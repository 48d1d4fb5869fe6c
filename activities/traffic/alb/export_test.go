package alb

import "testing"

// MotoOptions starts moto with the test fixture (listener forwarding 50/50
// to target groups blue and green) and returns the router's options, for
// the external tests that go through traffic.New.
func MotoOptions(t *testing.T) map[string]string {
	f := setup(t)
	return f.options(t)
}
