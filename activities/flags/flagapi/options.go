package flagapi

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/runbookhq/runbook/internal/netguard"
	"github.com/runbookhq/runbook/internal/secretref"
)

// CheckOptions refuses an option the provider does not know, so a typo
// fails the step instead of being ignored.
func CheckOptions(provider string, opts map[string]string, known ...string) error {
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(known, k) {
			return fmt.Errorf("%s: unknown option %q; known: %s", provider, k, strings.Join(known, ", "))
		}
	}
	return nil
}

// Token resolves the token option, which must be an env:NAME reference the
// worker allows (options are recorded in workflow history, so a token
// written in them would be readable by anyone who can read the history).
// Errors name the variable, never a value.
func Token(provider, option, ref string) (string, error) {
	name, ok := strings.CutPrefix(ref, secretref.Prefix)
	if !ok || name == "" {
		return "", fmt.Errorf("%s: option %s must be a reference like env:%s_TOKEN naming a worker environment variable, not the token itself",
			provider, option, strings.ToUpper(provider))
	}
	v, _, err := secretref.Lookup(name)
	if err != nil {
		return "", fmt.Errorf("%s: option %s: %w", provider, option, err)
	}
	if v == "" {
		return "", fmt.Errorf("%s: environment variable %s (option %s) is empty or unset on the worker", provider, name, option)
	}
	return v, nil
}

// BaseURL parses an API base URL option: http or https, a host that is not
// a link-local or cloud metadata address, no trailing slash.
func BaseURL(provider, option, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: option %s %q: want the API's base URL, e.g. https://flags.example.com", provider, option, raw)
	}
	if err := netguard.CheckHost(u.Hostname()); err != nil {
		return nil, fmt.Errorf("%s: option %s: %w", provider, option, err)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}
