package report

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Browser links to reports (the Slack gate message, `runbook status`)
// cannot carry an Authorization header, and a token in a URL ends up in
// browser history, proxies and chat logs for good. So a link carries an
// expiry and an HMAC of its path, query and expiry keyed with the token:
// it opens one report for a while (DefaultLinkTTL) and proves nothing
// else. The token itself is only ever sent as a bearer header.

// DefaultLinkTTL is how long a signed link opens its report.
const DefaultLinkTTL = 7 * 24 * time.Hour

// SignLink returns path (with its query, if any) plus exp and sig
// parameters that Authorized accepts until exp.
func SignLink(token []byte, pathAndQuery string, exp time.Time) string {
	u, err := url.Parse(pathAndQuery)
	if err != nil {
		return pathAndQuery
	}
	q := u.Query()
	q.Del("sig")
	q.Set("exp", strconv.FormatInt(exp.Unix(), 10))
	q.Set("sig", linkMAC(token, u.Path, q))
	u.RawQuery = q.Encode()
	return u.String()
}

// linkMAC is the HMAC-SHA256 of the path and the query without sig.
func linkMAC(token []byte, path string, q url.Values) string {
	c := url.Values{}
	for k, v := range q {
		if k != "sig" {
			c[k] = v
		}
	}
	m := hmac.New(sha256.New, token)
	m.Write([]byte("runbook report link v1\n" + path + "\n" + c.Encode()))
	return hex.EncodeToString(m.Sum(nil))
}

// Authorized accepts a request with the bearer token, or a signed link
// that has not expired.
func Authorized(token []byte, u *url.URL, authorization string, now time.Time) bool {
	if len(token) == 0 {
		return false
	}
	if bearer, ok := strings.CutPrefix(authorization, "Bearer "); ok {
		return subtle.ConstantTimeCompare([]byte(bearer), token) == 1
	}
	q := u.Query()
	sig, exp := q.Get("sig"), q.Get("exp")
	if sig == "" || exp == "" {
		return false
	}
	n, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || now.After(time.Unix(n, 0)) {
		return false
	}
	return hmac.Equal([]byte(sig), []byte(linkMAC(token, u.Path, q)))
}
