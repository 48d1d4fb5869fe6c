package scrub

import (
	"strings"
	"testing"
)

// imds is what an EC2 instance metadata service answers for a role's
// credentials (the example values from AWS's documentation).
const imds = `{
  "Code" : "Success",
  "LastUpdated" : "2026-12-07T05:00:00Z",
  "Type" : "AWS-HMAC",
  "AccessKeyId" : "ASIAIOSFODNN7EXAMPLE",
  "SecretAccessKey" : "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  "Token" : "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD",
  "Expiration" : "2026-12-07T11:00:00Z"
}`

func TestKeysAreMasked(t *testing.T) {
	for name, c := range map[string]struct{ in, secret string }{
		"imds secret":     {imds, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
		"imds key id":     {imds, "ASIAIOSFODNN7EXAMPLE"},
		"imds token":      {imds, "IQoJb3JpZ2luX2VjEJr"},
		"bare key id":     {"key AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE"},
		"bearer":          {"Authorization: Bearer abc.def-ghi_jkl", "abc.def-ghi_jkl"},
		"private key":     {"x -----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\nabc\n-----END RSA PRIVATE KEY----- y", "MIIEpAIBAAKCAQEA"},
		"cut private key": {"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ", "b3BlbnNzaC1rZXkt"},
		"password field":  {`{"db_password":"hunter2"}`, "hunter2"},
		"query secret":    {"redirect?client_secret=s3cr3t&x=1", "s3cr3t"},
		"slack token":     {"xoxb-123456789012-abcdefABCDEF", "xoxb-123456789012"},
		"github token":    {"ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdef"},
		"jwt":             {"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJl", "eyJzdWIiOiJib2IifQ"},
		"hex secret":      {"signing 8f14e45fceea167a5a36dedd4bea2543 ok", "8f14e45fceea167a5a36dedd4bea2543"},
		"random token":    {"k=0; v Zx81Qm2LpR7tYw0NvB4cK9sHd3FgJ6aU end", "Zx81Qm2LpR7tYw0NvB4cK9sHd3FgJ6aU"},
	} {
		got := Text(c.in)
		if strings.Contains(got, c.secret) || !strings.Contains(got, Mask) {
			t.Errorf("%s: %q still holds %q", name, got, c.secret)
		}
	}
}

func TestOrdinaryTextStays(t *testing.T) {
	for _, s := range []string{
		`{"status":"ok","version":"1.4.2"}`,
		"healthy: checkout-service-production-eu-west-1-primary",
		"a_very_long_identifier_without_any_digits_at_all",
		"<html><title>Checkout</title></html>",
		`{"tokens_used_total_count": }`,
	} {
		if got := Text(s); got != s {
			t.Errorf("Text(%q) = %q, want it unchanged", s, got)
		}
	}
}
