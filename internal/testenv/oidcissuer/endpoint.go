package oidcissuer

import (
	"fmt"
	"net/http"
)

// Profile says which token the mint endpoint issues for a nonce: the claims
// (usually with "nonce" set to it; Mint fills iss, iat and exp) and the
// options to mint with.
type Profile func(nonce string) (claims map[string]any, opts []MintOption)

// MintURL registers p under name and returns its mint endpoint: GET
// URL?nonce=N answers a token of p for nonce N as plain text. A process
// under test gets tokens there the way a person's IdP helper would, for
// example through a command the runbook CLI runs as RUNBOOK_OIDC_TOKEN_COMMAND.
// Registering a name again replaces its profile.
func (i *Issuer) MintURL(name string, p Profile) string {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.profiles == nil {
		i.profiles = map[string]Profile{}
	}
	i.profiles[name] = p
	return i.srv.URL + "/mint/" + name
}

func (i *Issuer) serveMint(w http.ResponseWriter, r *http.Request) {
	i.mu.Lock()
	p, ok := i.profiles[r.PathValue("name")]
	i.mu.Unlock()
	if !ok {
		http.Error(w, fmt.Sprintf("oidcissuer: no mint profile %q", r.PathValue("name")), http.StatusNotFound)
		return
	}
	nonce := r.URL.Query().Get("nonce")
	if nonce == "" {
		http.Error(w, "oidcissuer: say which nonce to mint for (?nonce=)", http.StatusBadRequest)
		return
	}
	claims, opts := p(nonce)
	tok, err := i.mint(claims, opts...)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = fmt.Fprintln(w, tok)
}
