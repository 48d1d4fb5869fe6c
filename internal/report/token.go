package report

import (
	"fmt"
	"os"
	"strings"

	"github.com/runbookhq/runbook/internal/secretref"
)

// EnvToken names the reports' token: a reference, env:NAME or file:PATH,
// never the token itself, so the setting can sit in a unit file or a
// compose file without being the secret.
const EnvToken = "RUNBOOK_REPORTS_TOKEN"

// EnvURL is the base URL people reach the worker's reports at, for the
// signed links the CLI prints (e.g. https://runbook.internal:8080).
const EnvURL = "RUNBOOK_REPORTS_URL"

// minToken is the shortest token accepted: it keys the links' HMAC.
const minToken = 16

// LoadToken resolves EnvToken. An unset setting returns no token and no
// error: reports are then not served at all.
func LoadToken(getenv func(string) string) ([]byte, error) {
	ref := strings.TrimSpace(getenv(EnvToken))
	if ref == "" {
		return nil, nil
	}
	var tok string
	switch {
	case strings.HasPrefix(ref, secretref.Prefix):
		name := strings.TrimPrefix(ref, secretref.Prefix)
		tok = getenv(name)
		if tok == "" {
			return nil, fmt.Errorf("%s=%s: %s is empty or unset", EnvToken, ref, name)
		}
	case strings.HasPrefix(ref, "file:"):
		b, err := os.ReadFile(strings.TrimPrefix(ref, "file:"))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvToken, err)
		}
		tok = strings.TrimSpace(string(b))
	default:
		return nil, fmt.Errorf("%s must be a reference, env:NAME or file:PATH, not the token itself", EnvToken)
	}
	if len(tok) < minToken {
		return nil, fmt.Errorf("%s=%s: the token has %d characters, at least %d are needed (e.g. openssl rand -hex 32)", EnvToken, ref, len(tok), minToken)
	}
	return []byte(tok), nil
}
