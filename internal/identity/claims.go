package identity

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// claims are the fields of an ID token Identify records.
type claims struct {
	issuer, subject, name string
	groups                []string
}

// tokenClaims reads the payload of an ID token the validator has verified
// (oidc.Verify), the same way oidc.Verify reads it: the identity claim
// (default email) and the groups claim (default groups, a string or a list).
func tokenClaims(token string, o *OIDCRoots) claims {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return claims{}
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return claims{}
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return claims{}
	}
	idClaim, groupsClaim := "email", "groups"
	if o != nil && o.IdentityClaim != "" {
		idClaim = o.IdentityClaim
	}
	if o != nil && o.GroupsClaim != "" {
		groupsClaim = o.GroupsClaim
	}
	c := claims{issuer: str(m["iss"]), subject: str(m["sub"]), name: str(m[idClaim])}
	switch g := m[groupsClaim].(type) {
	case string:
		c.groups = []string{g}
	case []any:
		for _, x := range g {
			if s, ok := x.(string); ok {
				c.groups = append(c.groups, s)
			}
		}
	}
	return c
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
