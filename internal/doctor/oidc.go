package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/runbookhq/runbook/internal/oidc"
)

// checkOIDC fetches the issuer's discovery document and the JWKS the
// worker verifies tokens with (RUNBOOK_OIDC_JWKS: a URL or a file): a CI
// job's token is refused when either is out of reach or holds no key.
func checkOIDC(ctx context.Context, cfg Config) Result {
	if cfg.OIDCIssuer == "" {
		return Result{Check: CheckOIDC, Status: Skip, Detail: "RUNBOOK_OIDC_ISSUER is not set: no OIDC identities"}
	}
	issuer := strings.TrimRight(cfg.OIDCIssuer, "/")
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	doc, err := get(ctx, cfg.HTTP, issuer+"/.well-known/openid-configuration")
	if err == nil {
		err = json.Unmarshal(doc, &disc)
	}
	if err != nil {
		return Result{Check: CheckOIDC, Status: Fail, Detail: fmt.Sprintf("issuer %s: discovery: %v", issuer, err),
			Fix: "check RUNBOOK_OIDC_ISSUER (e.g. https://token.actions.githubusercontent.com) and the network path to it"}
	}
	if strings.TrimRight(disc.Issuer, "/") != issuer {
		return Result{Check: CheckOIDC, Status: Fail, Detail: fmt.Sprintf("RUNBOOK_OIDC_ISSUER is %s, but its discovery document names issuer %s: tokens would be refused", issuer, disc.Issuer),
			Fix: "set RUNBOOK_OIDC_ISSUER=" + disc.Issuer}
	}
	jwks := cfg.OIDCJWKS
	if jwks == "" {
		jwks = disc.JWKSURI
	}
	var raw []byte
	if strings.HasPrefix(jwks, "https://") || strings.HasPrefix(jwks, "http://") {
		raw, err = get(ctx, cfg.HTTP, jwks)
	} else {
		raw, err = os.ReadFile(jwks)
	}
	var ks *oidc.KeySet
	if err == nil {
		ks, err = oidc.ParseJWKS(raw)
	}
	if err != nil {
		return Result{Check: CheckOIDC, Status: Fail, Detail: fmt.Sprintf("JWKS %s: %v", jwks, err), Fix: "set RUNBOOK_OIDC_JWKS=" + disc.JWKSURI}
	}
	return Result{Check: CheckOIDC, Status: OK, Detail: fmt.Sprintf("issuer %s answers; JWKS %s holds %d signing key(s)", issuer, jwks, len(ks.KeyIDs()))}
}

// get fetches url and fails on a status other than 200.
func get(ctx context.Context, hc *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}
