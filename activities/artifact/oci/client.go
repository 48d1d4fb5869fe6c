package oci

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
)

// Manifest media types requested, so that registries which convert between
// formats serve the stored bytes (whose digest was pinned) rather than a
// converted copy with another digest.
const (
	MediaTypeOCIManifest        = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeOCIIndex           = "application/vnd.oci.image.index.v1+json"
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// MaxManifestBytes is the largest manifest read; the distribution spec lets
// registries refuse anything larger, so a bigger answer is not a manifest.
const MaxManifestBytes = 4 << 20

const (
	maxTokenBytes = 1 << 20
	maxErrorBytes = 64 << 10
)

var manifestAccept = strings.Join([]string{
	MediaTypeOCIManifest, MediaTypeOCIIndex, MediaTypeDockerManifest, MediaTypeDockerManifestList,
}, ", ")

// ErrTooLarge is wrapped by errors for answers larger than their limit.
var ErrTooLarge = errors.New("answer exceeds its size limit")

// Client reads from registries. The zero value uses http.DefaultClient. A
// Client caches anonymous tokens per repository, so one Client should serve
// one activity attempt rather than the whole worker: tokens expire.
type Client struct {
	// HTTP sends the requests; nil means http.DefaultClient.
	HTTP *http.Client

	mu     sync.Mutex
	tokens map[string]string
}

// Manifest is a manifest exactly as the registry served it.
type Manifest struct {
	Body      []byte
	MediaType string
	// Digest is the sha256 of Body, computed here rather than taken from
	// the registry's Docker-Content-Digest header.
	Digest string
}

// Manifest fetches the manifest ref names. When ref pins a digest, content
// that hashes otherwise is returned with a *DigestError.
func (c *Client) Manifest(ctx context.Context, ref Reference) (Manifest, error) {
	u := fmt.Sprintf("%s/v2/%s/manifests/%s", ref.endpoint(), ref.apiRepository(), ref.Identifier())
	body, header, err := c.read(ctx, ref, u, manifestAccept, MaxManifestBytes)
	if err != nil {
		return Manifest{}, err
	}
	m := Manifest{Body: body, MediaType: mediaType(header, body), Digest: Digest(body)}
	if ref.Digest != "" && m.Digest != ref.Digest {
		return m, &DigestError{URL: u, Want: ref.Digest, Got: m.Digest}
	}
	return m, nil
}

// Blob fetches a blob of ref's repository, at most limit bytes, and checks
// that it hashes to digest.
func (c *Client) Blob(ctx context.Context, ref Reference, digest string, limit int64) ([]byte, error) {
	if !digestRE.MatchString(digest) {
		return nil, fmt.Errorf("blob digest %q is not sha256:<64 hex digits>", digest)
	}
	u := fmt.Sprintf("%s/v2/%s/blobs/%s", ref.endpoint(), ref.apiRepository(), digest)
	body, _, err := c.read(ctx, ref, u, "*/*", limit)
	if err != nil {
		return nil, err
	}
	if got := Digest(body); got != strings.ToLower(digest) {
		return body, &DigestError{URL: u, Want: digest, Got: got}
	}
	return body, nil
}

// Digest returns "sha256:<hex>" of b.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// read GETs u and returns at most limit bytes of a 200 answer.
func (c *Client) read(ctx context.Context, ref Reference, u, accept string, limit int64) ([]byte, http.Header, error) {
	resp, err := c.get(ctx, ref, u, accept)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := readLimited(resp.Body, limit)
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", u, err)
	}
	return body, resp.Header, nil
}

// get sends one GET, and on a 401 fetches an anonymous token as the
// challenge describes and sends it once more: that is how public
// repositories on Docker Hub, GHCR, Quay and ECR Public are read.
func (c *Client) get(ctx context.Context, ref Reference, u, accept string) (*http.Response, error) {
	resp, err := c.send(ctx, u, accept, c.token(ref))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		challenge := resp.Header.Get("WWW-Authenticate")
		discard(resp)
		tok, err := c.authorize(ctx, ref, u, challenge)
		if err != nil {
			return nil, err
		}
		if resp, err = c.send(ctx, u, accept, tok); err != nil {
			return nil, err
		}
	}
	if resp.StatusCode != http.StatusOK {
		defer discard(resp)
		return nil, newStatusError(u, resp)
	}
	return resp, nil
}

// send issues a GET with an optional Bearer token.
func (c *Client) send(ctx context.Context, u, accept, token string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return c.httpClient().Do(req)
}

// token returns the cached token for ref's repository, if any.
func (c *Client) token(ref Reference) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tokens[ref.Name()]
}

// remember caches a token for ref's repository.
func (c *Client) remember(ref Reference, tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tokens == nil {
		c.tokens = map[string]string{}
	}
	c.tokens[ref.Name()] = tok
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// readLimited reads r to the end unless it holds more than limit bytes.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("more than %d bytes: %w", limit, ErrTooLarge)
	}
	return b, nil
}

// discard drains a little of an unused body so the connection can be reused.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBytes))
	_ = resp.Body.Close()
}

// mediaType prefers the Content-Type header and falls back to the
// manifest's own mediaType field, which Docker v2 manifests always carry.
func mediaType(h http.Header, body []byte) string {
	if mt, _, err := mime.ParseMediaType(h.Get("Content-Type")); err == nil && mt != "application/octet-stream" {
		return mt
	}
	var m struct {
		MediaType string `json:"mediaType"`
	}
	_ = json.Unmarshal(body, &m)
	return m.MediaType
}
