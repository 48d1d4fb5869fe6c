package oci_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/runbookhq/runbook/activities/artifact/oci"
	"github.com/runbookhq/runbook/internal/testenv/ociregistry"
)

func parse(t *testing.T, s string) oci.Reference {
	t.Helper()
	ref, err := oci.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func TestManifestAndBlob(t *testing.T) {
	host := ociregistry.NewRegistry(t)
	img := ociregistry.RandomImage(t)
	digest := ociregistry.Push(t, host+"/team/checkout:1.4.2", img)
	c := &oci.Client{}

	for _, ref := range []string{"oci://" + host + "/team/checkout:1.4.2", "oci://" + host + "/team/checkout@" + digest} {
		m, err := c.Manifest(t.Context(), parse(t, ref))
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if m.Digest != digest || m.MediaType != oci.MediaTypeDockerManifest {
			t.Errorf("%s: digest %s media type %s, want %s", ref, m.Digest, m.MediaType, digest)
		}
		im, err := m.Image()
		if err != nil || len(im.Layers) != 2 {
			t.Fatalf("%s: image manifest %+v, %v", ref, im, err)
		}
		layer := im.Layers[0]
		b, err := c.Blob(t.Context(), parse(t, ref), layer.Digest, 1<<20)
		if err != nil || int64(len(b)) != layer.Size {
			t.Errorf("blob %s: %d bytes, %v", layer.Digest, len(b), err)
		}
		if _, err := c.Blob(t.Context(), parse(t, ref), layer.Digest, 10); !errors.Is(err, oci.ErrTooLarge) {
			t.Errorf("blob over its limit: %v", err)
		}
	}
}

func TestNotFound(t *testing.T) {
	host := ociregistry.NewRegistry(t)
	ociregistry.Push(t, host+"/team/checkout:1.4.2", ociregistry.RandomImage(t))
	c := &oci.Client{}
	for ref, code := range map[string]string{
		"oci://" + host + "/team/checkout:9.9.9": "MANIFEST_UNKNOWN",
		"oci://" + host + "/team/nothing:1.4.2":  "NAME_UNKNOWN",
	} {
		_, err := c.Manifest(t.Context(), parse(t, ref))
		var se *oci.StatusError
		if !errors.As(err, &se) || !se.NotFound() || se.Temporary() || len(se.Codes) == 0 || se.Codes[0] != code {
			t.Errorf("%s: %v, want a 404 with code %s", ref, err, code)
		}
	}
}

// A registry that serves other bytes than the digest asked for is caught.
func TestManifestByDigestIsChecked(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", oci.MediaTypeOCIManifest)
		_, _ = w.Write([]byte(`{"schemaVersion": 2}`))
	}))
	t.Cleanup(srv.Close)
	want := "sha256:" + strings.Repeat("0", 64)
	_, err := (&oci.Client{}).Manifest(t.Context(), parse(t, "oci://"+strings.TrimPrefix(srv.URL, "http://")+"/a@"+want))
	var de *oci.DigestError
	if !errors.As(err, &de) || de.Want != want {
		t.Errorf("err = %v, want a DigestError", err)
	}
}

// requireToken demands "Bearer good" and points at realm for it.
func requireToken(realm *string, fetched *atomic.Int32) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/token" {
				if r.URL.Query().Get("service") != "test-registry" || !strings.HasPrefix(r.URL.Query().Get("scope"), "repository:team/checkout:") {
					http.Error(w, "bad scope "+r.URL.RawQuery, http.StatusBadRequest)
					return
				}
				fetched.Add(1)
				_, _ = w.Write([]byte(`{"access_token": "good", "expires_in": 300}`))
				return
			}
			if r.Header.Get("Authorization") != "Bearer good" && r.Method == http.MethodGet {
				w.Header().Set("WWW-Authenticate", `Bearer realm="`+*realm+`",service="test-registry",scope="repository:team/checkout:pull"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func TestAnonymousBearerToken(t *testing.T) {
	var realm string
	var fetched atomic.Int32
	host := ociregistry.NewRegistry(t, requireToken(&realm, &fetched))
	realm = "http://" + host + "/token"
	digest := ociregistry.Push(t, host+"/team/checkout:1.4.2", ociregistry.RandomImage(t))
	fetched.Store(0) // the push took tokens too

	c := &oci.Client{}
	ref := parse(t, "oci://"+host+"/team/checkout:1.4.2")
	for range 2 {
		m, err := c.Manifest(t.Context(), ref)
		if err != nil || m.Digest != digest {
			t.Fatalf("manifest through a token: %v", err)
		}
	}
	if n := fetched.Load(); n != 1 {
		t.Errorf("fetched %d tokens, want 1 reused", n)
	}
}

func TestBasicChallengeIsUnauthorized(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="private"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	_, err := (&oci.Client{}).Manifest(t.Context(), parse(t, "oci://"+strings.TrimPrefix(srv.URL, "http://")+"/a:1"))
	var se *oci.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusUnauthorized || !strings.Contains(se.Error(), "Basic") {
		t.Errorf("err = %v, want a 401 naming Basic", err)
	}
}

func TestDigest(t *testing.T) {
	sum := sha256.Sum256([]byte("x"))
	if got := oci.Digest([]byte("x")); got != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("Digest = %s", got)
	}
}
