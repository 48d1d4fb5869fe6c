package versions_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/activities/artifact"
	"github.com/runbookhq/runbook/activities/versions"
	"github.com/runbookhq/runbook/internal/testenv/ociregistry"
)

// writeFile writes content to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// errType is the Temporal error type of err, or "".
func errType(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Type()
	}
	return ""
}

func TestVersionFile(t *testing.T) {
	dir := t.TempDir()
	vf := writeFile(t, dir, "VERSION", "1.4.2\n")
	art := writeFile(t, dir, "app-1.4.2.tar", "the 1.4.2 build")
	want, err := artifact.FileDigest(art)
	if err != nil {
		t.Fatal(err)
	}
	a := &versions.Activities{}
	for _, from := range []string{vf, "file://" + vf} {
		res, err := a.Resolve(context.Background(), versions.ResolveInput{
			From: from, Service: "app", Artifact: filepath.Join(dir, "${service}-${version}.tar"),
		})
		if err != nil {
			t.Fatalf("%s: %v", from, err)
		}
		if res.Version != "1.4.2" || res.Digest != want || res.Artifact != art {
			t.Errorf("%s: got %+v, want version 1.4.2, digest %s of %s", from, res, want, art)
		}
	}
}

func TestVersionFileRefusals(t *testing.T) {
	dir := t.TempDir()
	art := filepath.Join(dir, "app-${version}.tar")
	cases := []struct {
		name, from, wantType, wantMsg string
	}{
		{"missing file", filepath.Join(dir, "nope"), versions.ErrTypeNotFound, "does not exist"},
		{"not a version", writeFile(t, dir, "bad", "1.4.2 and more\n"), versions.ErrTypeInvalid, "not a version"},
		{"relative path", "VERSION", versions.ErrTypeInvalid, "absolute path"},
		{"artifact missing", writeFile(t, dir, "v", "9.9.9"), versions.ErrTypeNotFound, "app-9.9.9.tar does not exist"},
	}
	for _, c := range cases {
		_, err := (&versions.Activities{}).Resolve(context.Background(), versions.ResolveInput{From: c.from, Service: "app", Artifact: art})
		if errType(err) != c.wantType || err == nil || !strings.Contains(err.Error(), c.wantMsg) {
			t.Errorf("%s: got %v (type %q), want type %s saying %q", c.name, err, errType(err), c.wantType, c.wantMsg)
		}
	}
}

func TestImageVersionLabel(t *testing.T) {
	host := ociregistry.NewRegistry(t)
	img := ociregistry.RandomImage(t)
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Config.Labels = map[string]string{versions.VersionLabel: "1.4.2"}
	labelled, err := mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	digest := ociregistry.Push(t, host+"/team/app:stable", labelled)

	res, err := (&versions.Activities{}).Resolve(context.Background(), versions.ResolveInput{
		From: "oci://" + host + "/team/app:stable", Service: "app", Artifact: "oci://" + host + "/team/app:${version}",
	})
	if err != nil {
		t.Fatal(err)
	}
	wantRef := "oci://" + host + "/team/app:stable@" + digest
	if res.Version != "1.4.2" || res.Digest != digest || res.Artifact != wantRef {
		t.Errorf("got %+v, want version 1.4.2 from the label, digest %s, artifact %s", res, digest, wantRef)
	}
}

func TestImageWithoutLabel(t *testing.T) {
	host := ociregistry.NewRegistry(t)
	digest := ociregistry.Push(t, host+"/team/app:stable", ociregistry.RandomImage(t))
	a := &versions.Activities{}
	in := versions.ResolveInput{From: "oci://" + host + "/team/app:stable", Service: "app", Artifact: "oci://" + host + "/team/app:stable"}
	res, err := a.Resolve(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if want := "stable-" + strings.TrimPrefix(digest, "sha256:")[:12]; res.Version != want || res.Digest != digest {
		t.Errorf("got %+v, want version %s and digest %s", res, want, digest)
	}

	// The tag moves: the next firing sees another digest and version.
	moved := ociregistry.Push(t, host+"/team/app:stable", ociregistry.RandomImage(t))
	res2, err := a.Resolve(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if res2.Digest != moved || res2.Version == res.Version {
		t.Errorf("after the tag moved: got %+v, want digest %s and a new version", res2, moved)
	}

	in.From = "oci://" + host + "/team/app:missing"
	if _, err := a.Resolve(context.Background(), in); errType(err) != versions.ErrTypeNotFound {
		t.Errorf("missing tag: got %v, want %s", err, versions.ErrTypeNotFound)
	}
	in.From, in.Artifact = "oci://"+host+"/team/app:stable", "/srv/app.tar"
	if _, err := a.Resolve(context.Background(), in); errType(err) != versions.ErrTypeInvalid {
		t.Errorf("image source with a file artifact: got %v, want %s", err, versions.ErrTypeInvalid)
	}
}
