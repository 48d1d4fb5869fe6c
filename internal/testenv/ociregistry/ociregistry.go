// Package ociregistry runs an in-process OCI registry (go-containerregistry's
// pkg/registry) on 127.0.0.1 and pushes images to it, for tests of code
// that reads registries.
package ociregistry

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// NewRegistry starts a registry and returns its HOST:PORT. wrap, if given,
// wraps the registry's handler (to demand tokens, count requests, fail).
func NewRegistry(t testing.TB, wrap ...func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(discardLogger()))
	for _, w := range wrap {
		h = w(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// RandomImage returns a small image with random layers; each call gives an
// image with another digest.
func RandomImage(t testing.TB) v1.Image {
	t.Helper()
	img, err := random.Image(256, 2)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// Push writes img to ref ("HOST:PORT/REPO:TAG" or "@sha256:...") and returns
// its manifest digest.
func Push(t testing.TB, ref string, img v1.Image) string {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// discardLogger keeps the registry's request log out of test output.
func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }
