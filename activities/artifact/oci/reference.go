// Package oci reads manifests and blobs from container registries through the
// OCI distribution API v2, anonymously or with the registry's anonymous Bearer
// token. It knows nothing of Temporal: callers classify its errors.
package oci

import (
	"fmt"
	"net"
	"regexp"
	"strings"
)

// Scheme prefixes every reference this package parses.
const Scheme = "oci://"

// DefaultTag is resolved when a reference names neither a tag nor a digest,
// as docker and crane do.
const DefaultTag = "latest"

var (
	// The grammar of github.com/distribution/reference, restricted to what a
	// registry path may hold once the host has been split off.
	repoRE   = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)
	tagRE    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	hostRE   = regexp.MustCompile(`^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$`)
	digestRE = regexp.MustCompile(`^sha256:[0-9a-fA-F]{64}$`)
)

// Reference is a parsed oci://HOST[:PORT]/REPO[:TAG][@sha256:HEX] reference.
type Reference struct {
	// Registry is HOST[:PORT] as written.
	Registry string
	// Repository is the path inside the registry, e.g. "team/checkout".
	Repository string
	// Tag is empty when the reference gives none.
	Tag string
	// Digest is "sha256:<lower hex>" when the reference pins one; it wins
	// over Tag, which is then only informative.
	Digest string
}

// IsReference reports whether s is meant as an oci:// reference.
func IsReference(s string) bool { return strings.HasPrefix(s, Scheme) }

// ParseReference parses an oci:// reference. Credentials, query strings and
// upper-case repository names are refused rather than guessed at.
func ParseReference(s string) (Reference, error) {
	rest, ok := strings.CutPrefix(s, Scheme)
	if !ok {
		return Reference{}, fmt.Errorf("reference %q does not start with %s", s, Scheme)
	}
	host, path, _ := strings.Cut(rest, "/")
	if !hostRE.MatchString(host) {
		return Reference{}, fmt.Errorf("reference %q: %q is not HOST[:PORT] (credentials are not accepted in references)", s, host)
	}
	ref := Reference{Registry: host}
	if p, d, found := strings.Cut(path, "@"); found {
		if !digestRE.MatchString(d) {
			return Reference{}, fmt.Errorf("reference %q: %q is not sha256:<64 hex digits>", s, d)
		}
		path, ref.Digest = p, strings.ToLower(d)
	}
	if i := strings.LastIndexByte(path, ':'); i > strings.LastIndexByte(path, '/') {
		path, ref.Tag = path[:i], path[i+1:]
		if !tagRE.MatchString(ref.Tag) {
			return Reference{}, fmt.Errorf("reference %q: tag %q may hold only letters, digits, '_', '.' and '-' (at most 128)", s, ref.Tag)
		}
	}
	if !repoRE.MatchString(path) {
		return Reference{}, fmt.Errorf("reference %q: repository %q must be lower-case path components of letters, digits and separators", s, path)
	}
	ref.Repository = path
	return ref, nil
}

// Identifier is what goes after /manifests/: the digest when pinned, else
// the tag, else DefaultTag.
func (r Reference) Identifier() string {
	switch {
	case r.Digest != "":
		return r.Digest
	case r.Tag != "":
		return r.Tag
	}
	return DefaultTag
}

// WithTag returns the same repository under tag, without any digest.
func (r Reference) WithTag(tag string) Reference {
	return Reference{Registry: r.Registry, Repository: r.Repository, Tag: tag}
}

// Name is HOST/REPO, the form cosign writes as docker-reference.
func (r Reference) Name() string { return r.Registry + "/" + r.Repository }

// String formats the reference back to oci:// form.
func (r Reference) String() string {
	s := Scheme + r.Name()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// plainHTTP reports whether the registry is on this machine, the only case
// where TLS is skipped: test and development registries rarely have a
// certificate, and traffic that never leaves the host cannot be intercepted.
func (r Reference) plainHTTP() bool {
	host := r.Registry
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// dockerHub reports whether the reference names Docker Hub, whose API
// lives elsewhere than its canonical name and whose official images hide
// their "library/" namespace.
func (r Reference) dockerHub() bool {
	return r.Registry == "docker.io" || r.Registry == "index.docker.io"
}

// apiRepository is the repository as the registry's API names it.
func (r Reference) apiRepository() string {
	if r.dockerHub() && !strings.Contains(r.Repository, "/") {
		return "library/" + r.Repository
	}
	return r.Repository
}

// endpoint is the base URL of the registry's API.
func (r Reference) endpoint() string {
	host := r.Registry
	if r.dockerHub() {
		host = "registry-1.docker.io"
	}
	if r.plainHTTP() {
		return "http://" + host
	}
	return "https://" + host
}
