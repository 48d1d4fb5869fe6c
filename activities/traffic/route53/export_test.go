package route53

import "testing"

// MotoOptions starts moto with the test fixture (two weighted A records,
// blue and green, at 50) and returns the router's options, for the external
// tests that go through traffic.New.
func MotoOptions(t *testing.T) map[string]string {
	_, opts := setup(t)
	return opts
}
