package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config says where the worker's trust roots are (RUNBOOK_ALLOWED_SIGNERS and
// friends; see README's config table).
type Config struct {
	// AllowedSignersFile is an allowed-signers file in git's format.
	AllowedSignersFile string
	// GroupsFile is YAML: group name → list of identities.
	GroupsFile string
	// OIDCIssuer, OIDCAudience and OIDCJWKS (a file, or an https URL)
	// trust one issuer's ID tokens; the claims default to email and groups.
	OIDCIssuer, OIDCAudience, OIDCJWKS string
	OIDCIdentityClaim, OIDCGroupsClaim string
	// SlackUsers maps Slack user IDs to identities (RUNBOOK_SLACK_USERS).
	SlackUsers map[string]string
}

// maxRootsFile bounds each trust-root file: they are carried in history.
const maxRootsFile = 256 << 10

// Load reads and checks the trust roots. Every file is parsed here, so a bad
// file fails the load with its name and line instead of every decision.
func Load(ctx context.Context, cfg Config) (Roots, error) {
	r := Roots{SlackUsers: cfg.SlackUsers}
	if cfg.AllowedSignersFile != "" {
		text, err := readBounded(cfg.AllowedSignersFile)
		if err != nil {
			return Roots{}, fmt.Errorf("allowed signers (RUNBOOK_ALLOWED_SIGNERS): %w", err)
		}
		r.AllowedSigners, r.AllowedSignersFile = text, cfg.AllowedSignersFile
	}
	if cfg.GroupsFile != "" {
		gs, err := loadGroups(cfg.GroupsFile)
		if err != nil {
			return Roots{}, err
		}
		r.Groups = gs
	}
	if cfg.OIDCIssuer != "" || cfg.OIDCJWKS != "" {
		o, err := loadOIDC(ctx, cfg)
		if err != nil {
			return Roots{}, err
		}
		r.OIDC = o
	}
	if _, err := r.Verifier(); err != nil {
		return Roots{}, err
	}
	r.Digest = r.digest()
	return r, nil
}

func readBounded(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxRootsFile+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxRootsFile {
		return "", fmt.Errorf("%s is larger than %d bytes", path, maxRootsFile)
	}
	return string(b), nil
}

// loadGroups reads the groups file: a YAML mapping of group to members.
func loadGroups(path string) (map[string][]string, error) {
	text, err := readBounded(path)
	if err != nil {
		return nil, fmt.Errorf("groups file (RUNBOOK_GROUPS_FILE): %w", err)
	}
	var gs map[string][]string
	if err := yaml.Unmarshal([]byte(text), &gs); err != nil {
		return nil, fmt.Errorf("groups file %s: %w (want `group: [identity, ...]` per line)", path, err)
	}
	for g, members := range gs {
		if strings.TrimSpace(g) == "" || strings.ContainsAny(g, " ,:") {
			return nil, fmt.Errorf("groups file %s: group name %q must be one word without spaces, commas or colons", path, g)
		}
		slices.Sort(members)
		gs[g] = slices.Compact(members)
	}
	return gs, nil
}

// loadOIDC reads the issuer's JWKS from a file or an https URL.
func loadOIDC(ctx context.Context, cfg Config) (*OIDCRoots, error) {
	if cfg.OIDCIssuer == "" || cfg.OIDCAudience == "" || cfg.OIDCJWKS == "" {
		return nil, fmt.Errorf("OIDC needs RUNBOOK_OIDC_ISSUER, RUNBOOK_OIDC_AUDIENCE and RUNBOOK_OIDC_JWKS together")
	}
	doc, err := fetchJWKS(ctx, cfg.OIDCJWKS)
	if err != nil {
		return nil, fmt.Errorf("JWKS (RUNBOOK_OIDC_JWKS): %w", err)
	}
	if !json.Valid(doc) {
		return nil, fmt.Errorf("JWKS (RUNBOOK_OIDC_JWKS) %s is not JSON", cfg.OIDCJWKS)
	}
	return &OIDCRoots{Issuer: cfg.OIDCIssuer, Audience: cfg.OIDCAudience,
		IdentityClaim: cfg.OIDCIdentityClaim, GroupsClaim: cfg.OIDCGroupsClaim, JWKS: doc}, nil
}

// fetchJWKS reads a JWKS file, or GETs an https URL (http only on loopback,
// for tests and a local IdP).
func fetchJWKS(ctx context.Context, src string) ([]byte, error) {
	u, err := url.Parse(src)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		text, err := readBounded(src)
		return []byte(text), err
	}
	if u.Scheme == "http" && !loopback(u.Hostname()) {
		return nil, fmt.Errorf("%s: use https (plain http only on 127.0.0.1 or localhost)", src)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", src, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxRootsFile+1))
	if err == nil && len(b) > maxRootsFile {
		err = fmt.Errorf("GET %s: larger than %d bytes", src, maxRootsFile)
	}
	return b, err
}

func loopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}
