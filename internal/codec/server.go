package codec

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"go.temporal.io/sdk/converter"
)

// EnvToken names the codec server's bearer token: a reference, env:NAME or
// file:PATH. Every POST must carry "Authorization: Bearer <token>".
const EnvToken = "RUNBOOK_CODEC_TOKEN"

// minToken is the shortest token accepted.
const minToken = 16

// maxBody bounds one request: the Web UI sends a page of a history's
// payloads at a time, each at most 2 MiB by Temporal's default limit.
const maxBody = 16 << 20

// ServerOptions say who may use the codec endpoints.
type ServerOptions struct {
	// Token is the bearer token every POST must carry; empty means none
	// (only with NoAuth).
	Token string
	// NoAuth serves without a token. LoadToken allows it only on a
	// loopback address: `runbook dev`, whose Web UI has no login and so no
	// token to send.
	NoAuth bool
	// CORSOrigin is the Web UI's origin (scheme://host:port), the only one
	// whose browser requests are answered; empty answers none.
	CORSOrigin string
}

// LoadToken resolves RUNBOOK_CODEC_TOKEN for a server listening on listen.
// Without a token, noAuth must be asked for and listen must be loopback.
func LoadToken(getenv func(string) string, listen string, noAuth bool) (string, error) {
	if strings.TrimSpace(getenv(EnvToken)) == "" {
		if !noAuth {
			return "", fmt.Errorf("%s is not set: the codec server decrypts for whoever asks, so it needs a bearer token (env:NAME or file:PATH); --no-auth serves without one on a loopback address only", EnvToken)
		}
		if !loopback(listen) {
			return "", fmt.Errorf("--no-auth on %s: serving decryption without a token is allowed on a loopback address only (127.0.0.1, ::1); set %s", listen, EnvToken)
		}
		return "", nil
	}
	tok, err := ResolveRef(EnvToken, getenv(EnvToken), getenv)
	if err != nil {
		return "", err
	}
	tok = strings.TrimSpace(tok)
	if len(tok) < minToken {
		return "", fmt.Errorf("%s: the token has %d characters, at least %d are needed (e.g. openssl rand -hex 32)", EnvToken, len(tok), minToken)
	}
	return tok, nil
}

// loopback reports whether host:port listens on a loopback address only.
func loopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// Handler serves POST /encode and POST /decode (the Temporal codec server
// protocol the Web UI and `temporal --codec-endpoint` speak) for c, behind
// the bearer token and the CORS rule of o.
func Handler(c *Codec, o ServerOptions) (http.Handler, error) {
	if o.Token == "" && !o.NoAuth {
		return nil, errors.New("codec server: no token and no --no-auth")
	}
	codecs := converter.NewPayloadCodecHTTPHandler(c)
	mux := http.NewServeMux()
	for _, path := range []string{"/encode", "/decode"} {
		mux.Handle("POST "+path, o.authorize(http.MaxBytesHandler(codecs, maxBody)))
		mux.HandleFunc("OPTIONS "+path, o.preflight)
	}
	return o.cors(mux), nil
}

// cors refuses browser requests from other origins and marks the allowed
// origin's answers readable by it. Requests without Origin (the CLI,
// curl, another server) pass to the token check.
func (o ServerOptions) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		if o.CORSOrigin == "" || origin != o.CORSOrigin {
			http.Error(w, "origin not allowed", http.StatusForbidden)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", origin)
		// The UI's "include cross-origin credentials" option sends its
		// cookies; allowed for the one exact origin only.
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		next.ServeHTTP(w, r)
	})
}

// preflight answers the browser's OPTIONS for the allowed origin (cors
// has refused the others): no token is asked, browsers send none here.
func (o ServerOptions) preflight(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Origin") == "" {
		http.Error(w, "not a CORS preflight", http.StatusBadRequest)
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "POST")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Namespace")
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

// authorize checks the bearer token in constant time.
func (o ServerOptions) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !o.NoAuth {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(o.Token)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="runbook codec"`)
				http.Error(w, "a valid bearer token is required", http.StatusUnauthorized)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
