package slackin

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	slackacts "github.com/runbookhq/runbook/activities/slack"
)

// Environment variables holding the signing secret, or the path of a file
// holding it.
const (
	EnvSigningSecret     = "SLACK_SIGNING_SECRET"
	EnvSigningSecretFile = "SLACK_SIGNING_SECRET_FILE"
)

// Environment variables holding the app-level token (xapp-...) of Socket
// Mode, or the path of a file holding it. Both are optional.
const (
	EnvAppToken     = "SLACK_APP_TOKEN"
	EnvAppTokenFile = "SLACK_APP_TOKEN_FILE"
)

// MaxSkew is how far a request's timestamp may be from Now: Slack's
// recommendation, and what slack-go's verifier allows.
const MaxSkew = 5 * time.Minute

// Secrets are what the handler needs from the environment. They print as
// "[redacted]" so a stray log line cannot leak them.
type Secrets struct {
	SigningSecret string
	// AppToken is the app-level token (xapp-...) for Socket Mode; empty
	// when neither SLACK_APP_TOKEN nor SLACK_APP_TOKEN_FILE is set.
	AppToken string
}

// String keeps the secret out of fmt output.
func (Secrets) String() string { return "[redacted]" }

// GoString keeps the secret out of %#v output.
func (Secrets) GoString() string { return "slackin.Secrets{[redacted]}" }

// LogValue keeps the secret out of slog output.
func (Secrets) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// LoadSecrets reads the signing secret from SLACK_SIGNING_SECRET or the file
// named by SLACK_SIGNING_SECRET_FILE, and the optional app-level token of
// Socket Mode from SLACK_APP_TOKEN or the file named by SLACK_APP_TOKEN_FILE;
// getenv nil means os.Getenv. Without a signing secret it fails, naming both
// variables.
func LoadSecrets(getenv func(string) string) (Secrets, error) {
	s, err := slackacts.LoadSecret(getenv, EnvSigningSecret)
	if err != nil {
		return Secrets{}, err
	}
	if s == "" {
		return Secrets{}, errors.New("slack interactions need the app's signing secret: set " + EnvSigningSecret + " or " + EnvSigningSecretFile)
	}
	app, err := slackacts.LoadSecret(getenv, EnvAppToken)
	if err != nil {
		return Secrets{}, err
	}
	return Secrets{SigningSecret: s, AppToken: app}, nil
}

// Reasons a request is refused with 401. They are short and never include
// what was expected.
var (
	errMissingHeaders = errors.New("missing X-Slack-Signature or X-Slack-Request-Timestamp")
	errBadTimestamp   = errors.New("malformed X-Slack-Request-Timestamp")
	errStale          = errors.New("request timestamp outside the 5-minute window")
	errBadSignature   = errors.New("signature does not match")
	errNoSecret       = errors.New("no signing secret configured")
)

// verify checks Slack's v0 signature: HMAC-SHA256 with the signing secret
// over "v0:<timestamp>:<body>", hex encoded after "v0=". It follows
// slack.NewSecretsVerifier, which also enforces the 5-minute window, but
// against the wall clock; doing it here measures the window on h.now, the
// one clock of the handler. An empty secret verifies nothing: anyone can
// compute the HMAC under the empty key, so the guard lives here, not only
// in New, and no future caller can forget it.
func verify(header http.Header, body []byte, secret string, now time.Time) error {
	if secret == "" {
		return errNoSecret
	}
	sig, stamp := header.Get("X-Slack-Signature"), header.Get("X-Slack-Request-Timestamp")
	if sig == "" || stamp == "" {
		return errMissingHeaders
	}
	secs, err := strconv.ParseInt(stamp, 10, 64)
	if err != nil {
		return errBadTimestamp
	}
	if now.Sub(time.Unix(secs, 0)).Abs() > MaxSkew {
		return errStale
	}
	got, err := hex.DecodeString(strings.TrimPrefix(sig, "v0="))
	if err != nil || !strings.HasPrefix(sig, "v0=") {
		return errBadSignature
	}
	if !hmac.Equal(got, sign(secret, stamp, body)) {
		return errBadSignature
	}
	return nil
}

// sign computes the raw v0 signature of body sent at stamp.
func sign(secret, stamp string, body []byte) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + stamp + ":"))
	mac.Write(body)
	return mac.Sum(nil)
}
