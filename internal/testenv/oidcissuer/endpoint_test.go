package oidcissuer

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestMintEndpoint: the endpoint mints a profile's token for the nonce asked
// for, with the options the profile gives; an unknown profile or a missing
// nonce is an error, not a token.
func TestMintEndpoint(t *testing.T) {
	iss := Start(t)
	u := iss.MintURL("alice", func(nonce string) (map[string]any, []MintOption) {
		return map[string]any{"sub": "u-alice", "nonce": nonce}, []MintOption{WithAlg("EdDSA")}
	})
	tok := strings.TrimSpace(string(get(t, u+"?nonce="+url.QueryEscape("n 1/2"))))
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("mint endpoint answered %q, want one compact JWS", tok)
	}
	if h := decodePart(t, parts[0]); h["alg"] != "EdDSA" || h["kid"] != iss.KeyID("EdDSA") {
		t.Errorf("header = %v, want the profile's EdDSA key", h)
	}
	if c := decodePart(t, parts[1]); c["nonce"] != "n 1/2" || c["sub"] != "u-alice" || c["iss"] != iss.URL() {
		t.Errorf("claims = %v, want the profile's for nonce %q", c, "n 1/2")
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for _, bad := range []struct {
		url  string
		want int
	}{{iss.URL() + "/mint/bob?nonce=x", http.StatusNotFound}, {u, http.StatusBadRequest}} {
		resp, err := client.Get(bad.url)
		if err != nil {
			t.Fatalf("GET %s: %v", bad.url, err)
		}
		resp.Body.Close()
		if resp.StatusCode != bad.want {
			t.Errorf("GET %s: %d, want %d", bad.url, resp.StatusCode, bad.want)
		}
	}
}
