package artifact

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/runbookhq/runbook/activities/artifact/oci"
	"github.com/runbookhq/runbook/internal/testenv/ociregistry"
)

func TestVerifyImage(t *testing.T) {
	host := ociregistry.NewRegistry(t)
	repo := "oci://" + host + "/team/checkout"
	first := ociregistry.Push(t, host+"/team/checkout:1.4.2", ociregistry.RandomImage(t))
	ociregistry.Push(t, host+"/team/checkout:stable", ociregistry.RandomImage(t))
	// The same tag is pushed over: the pinned digest no longer matches it.
	moved := ociregistry.Push(t, host+"/team/checkout:1.4.3", ociregistry.RandomImage(t))
	ociregistry.Push(t, host+"/team/checkout:1.4.3", ociregistry.RandomImage(t))
	other := known("another image")

	for name, tc := range map[string]struct {
		ref, digest  string
		typ          string // "" means success
		nonRetryable bool
		msg          string
	}{
		"tag":                        {repo + ":1.4.2", first, "", false, ""},
		"digest":                     {repo + "@" + first, first, "", false, ""},
		"tag and digest":             {repo + ":1.4.2@" + first, first, "", false, ""},
		"moved tag, old digest":      {repo + "@" + moved, moved, "", false, ""},
		"moved tag":                  {repo + ":1.4.3", moved, ErrTypeMismatch, true, "the tag moved since the digest was pinned"},
		"other tag":                  {repo + ":stable", first, ErrTypeMismatch, true, "deploy the pinned image by digest (" + repo + "@" + first + ")"},
		"reference pins other":       {repo + "@" + other, first, ErrTypeMismatch, true, "make the reference and the digest agree"},
		"missing tag":                {repo + ":9.9.9", first, ErrTypeNotFound, true, "MANIFEST_UNKNOWN"},
		"missing repository":         {"oci://" + host + "/team/nothing:1.4.2", first, ErrTypeNotFound, true, "NAME_UNKNOWN"},
		"missing digest":             {repo + "@" + other, other, ErrTypeNotFound, true, "check the repository and tag"},
		"bad reference":              {"oci://" + host + "/Team/Checkout:1", first, ErrTypeInvalid, true, "lower-case"},
		"credentials in a reference": {"oci://me:pw@" + host + "/team/checkout:1.4.2", first, ErrTypeInvalid, true, "credentials"},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := verify(t, tc.ref, tc.digest)
			if tc.typ != "" {
				ae := appErr(t, err, tc.typ, tc.nonRetryable)
				if !strings.Contains(ae.Message(), tc.msg) {
					t.Errorf("message %q lacks %q", ae.Message(), tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Digest != tc.digest || res.Size <= 0 || res.MediaType != oci.MediaTypeDockerManifest {
				t.Errorf("result %+v", res)
			}
		})
	}
}

func TestVerifyImageRegistryTrouble(t *testing.T) {
	var status atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(int(status.Load()))
	}))
	t.Cleanup(srv.Close)
	ref := "oci://" + strings.TrimPrefix(srv.URL, "http://") + "/team/checkout:1"
	for _, tc := range []struct {
		status       int
		typ          string
		nonRetryable bool
	}{
		{503, ErrTypeRead, false},
		{429, ErrTypeRead, false},
		{401, ErrTypeUnreadable, true},
		{403, ErrTypeUnreadable, true},
		{400, ErrTypeUnreadable, true},
	} {
		status.Store(int32(tc.status))
		_, err := verify(t, ref, known(content))
		appErr(t, err, tc.typ, tc.nonRetryable)
	}

	srv.Close()
	_, err := verify(t, ref, known(content))
	appErr(t, err, ErrTypeRead, false)
}
