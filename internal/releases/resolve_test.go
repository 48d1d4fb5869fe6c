package releases

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/runbooks"
)

var (
	digestA = "sha256:" + strings.Repeat("ab", 32)
	digestB = "sha256:" + strings.Repeat("cd", 32)
)

// sampleRunbook is a valid, resolved-looking runbook with the given
// artifact; each test gets its own copy.
func sampleRunbook(ref, digest string) *runbooks.Runbook {
	return &runbooks.Runbook{
		APIVersion: runbooks.APIVersion,
		Service:    "checkout",
		Owner:      "team-payments",
		Artifact:   runbooks.Artifact{Reference: ref, Digest: digest},
		Environments: []runbooks.Environment{{
			Name:  "staging",
			Steps: []runbooks.Step{{Name: "smoke", HTTPCheck: &runbooks.HTTPCheckStep{URL: "http://127.0.0.1:1/healthz"}}},
		}},
	}
}

// resolveIn is a ResolveInput that passes every check; tests change one field.
func resolveIn(t *testing.T) ResolveInput {
	t.Helper()
	return ResolveInput{
		Path:      filepath.Join(t.TempDir(), "runbooks", "checkout.yaml"),
		Runbook:   sampleRunbook("../bin/app", ""),
		Version:   "1.4.2",
		Digest:    digestA,
		Requester: "alice",
	}
}

func TestResolveVersion(t *testing.T) {
	for _, v := range []string{"1.4.2", "1.4.2-rc.1", "1.4.2+build.7", "2024_06_01", "v2", "a", strings.Repeat("9", 64)} {
		in := resolveIn(t)
		in.Version = v
		got, err := Resolve(in)
		if err != nil {
			t.Errorf("version %q refused: %v", v, err)
			continue
		}
		if got.Version != v {
			t.Errorf("version %q resolved to %q", v, got.Version)
		}
	}
	bad := []string{"", " 1.4.2", "1.4.2 beta", "-1", ".1", "1/2", "../1", "1.4.2\n", "1:2", "1,2", strings.Repeat("9", 65), "1.4.2ü"}
	for _, v := range bad {
		in := resolveIn(t)
		in.Version = v
		_, err := Resolve(in)
		if err == nil {
			t.Errorf("version %q accepted; it would end up in a workflow ID and a URL", v)
			continue
		}
		msg := err.Error()
		for _, want := range []string{fmt.Sprintf("version %q is not valid", v), "letters, digits and . + _ -", "at most 64", "e.g. 1.4.2"} {
			if !strings.Contains(msg, want) {
				t.Errorf("version %q: message %q does not contain %q", v, msg, want)
			}
		}
	}
}

func TestResolveRequester(t *testing.T) {
	for _, who := range []string{"", "  ", "\t"} {
		in := resolveIn(t)
		in.Requester = who
		_, err := Resolve(in)
		if err == nil || !strings.Contains(err.Error(), "--as NAME") {
			t.Errorf("requester %q: err = %v, want one telling to pass --as NAME", who, err)
		}
	}
}

func TestResolveDigest(t *testing.T) {
	cases := []struct {
		name, inRunbook, flag string
		want                  string   // resolved digest, when it succeeds
		errHas                []string // message parts, when it fails
	}{
		{name: "flag only", flag: digestA, want: digestA},
		{name: "runbook only", inRunbook: digestB, want: digestB},
		{name: "both agree", inRunbook: digestA, flag: digestA, want: digestA},
		{name: "both differ", inRunbook: digestA, flag: digestB,
			errHas: []string{"--digest " + digestB, "artifact.digest " + digestA, "drop one"}},
		{name: "neither", errHas: []string{"no artifact digest", "artifact.digest", "--digest sha256:<hex>", "sha256sum"}},
		{name: "uppercase hex", flag: "sha256:" + strings.Repeat("AB", 32),
			errHas: []string{`--digest "sha256:` + strings.Repeat("AB", 32) + `"`, "sha256:<64 lowercase hex digits>"}},
		{name: "too short", flag: "sha256:abc", errHas: []string{`--digest "sha256:abc"`, "64 lowercase hex"}},
		{name: "too long", flag: digestA + "0", errHas: []string{"64 lowercase hex"}},
		{name: "bare hex", flag: strings.Repeat("ab", 32), errHas: []string{"must look like sha256:"}},
		{name: "other algorithm", flag: "md5:" + strings.Repeat("ab", 16), errHas: []string{"must look like sha256:"}},
		{name: "trailing newline", flag: digestA + "\n", errHas: []string{"must look like sha256:"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := resolveIn(t)
			in.Runbook = sampleRunbook("../bin/app", c.inRunbook)
			in.Digest = c.flag
			got, err := Resolve(in)
			if c.errHas != nil {
				if err == nil {
					t.Fatalf("resolved with digest %q; want an error", got.Digest)
				}
				for _, want := range c.errHas {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("message %q does not contain %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			// The workflow verifies the artifact against Runbook.Artifact and
			// reports Digest: both must carry the pinned digest.
			if got.Digest != c.want || got.Runbook.Artifact.Digest != c.want {
				t.Errorf("digest %q, artifact digest %q; want %q for both", got.Digest, got.Runbook.Artifact.Digest, c.want)
			}
		})
	}
}

func TestResolveRelativeArtifactIsAbsoluteFromRunbookDir(t *testing.T) {
	dir := t.TempDir()
	in := resolveIn(t)
	in.Path = filepath.Join(dir, "runbooks", "examples", "checkout.yaml")
	in.Runbook = sampleRunbook("../../bin/sampleapp-${version}", "")
	got, err := Resolve(in)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	want := filepath.Join(dir, "bin", "sampleapp-1.4.2")
	if got.Runbook.Artifact.Reference != want {
		t.Errorf("reference %q, want %q (relative to the runbook's directory, ${version} expanded)", got.Runbook.Artifact.Reference, want)
	}
	if got.RunbookFile != in.Path {
		t.Errorf("runbook file %q, want %q", got.RunbookFile, in.Path)
	}
	if in.Runbook.Artifact.Reference != "../../bin/sampleapp-${version}" || in.Runbook.Artifact.Digest != "" {
		t.Errorf("Resolve changed the caller's runbook: artifact is now %+v", in.Runbook.Artifact)
	}
}

// TestResolveRelativeRunbookPath: the CLI passes the path as typed, relative
// to the working directory; the worker may run elsewhere, so the artifact
// and the runbook file must come out absolute.
func TestResolveRelativeRunbookPath(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	if err := os.MkdirAll("deploy", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"app.tar.gz", "./app.tar.gz", "sub/../app.tar.gz"} {
		in := resolveIn(t)
		in.Path = filepath.Join("deploy", "checkout.yaml")
		in.Runbook = sampleRunbook(ref, "")
		got, err := Resolve(in)
		if err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		if want := filepath.Join(dir, "deploy", "app.tar.gz"); got.Runbook.Artifact.Reference != want {
			t.Errorf("reference %q from runbook deploy/checkout.yaml: got %q, want %q", ref, got.Runbook.Artifact.Reference, want)
		}
		if want := filepath.Join(dir, "deploy", "checkout.yaml"); got.RunbookFile != want {
			t.Errorf("runbook file %q, want %q", got.RunbookFile, want)
		}
	}
}

func TestResolveKeepsAbsolutePathsAndURLs(t *testing.T) {
	cases := []struct{ ref, want string }{
		{"/opt/builds/checkout-${version}.tar.gz", "/opt/builds/checkout-1.4.2.tar.gz"},
		{"file:///opt/builds/${service}/${version}/app", "file:///opt/builds/checkout/1.4.2/app"},
		{"https://artifacts.example.com/${service}/${version}.tar.gz?sig=a%2Fb&x=${version}", "https://artifacts.example.com/checkout/1.4.2.tar.gz?sig=a%2Fb&x=1.4.2"},
		{"http://127.0.0.1:8080/app", "http://127.0.0.1:8080/app"},
		{"HTTPS://Artifacts.Example.com/App", "HTTPS://Artifacts.Example.com/App"},
	}
	for _, c := range cases {
		in := resolveIn(t)
		in.Runbook = sampleRunbook(c.ref, "")
		got, err := Resolve(in)
		if err != nil {
			t.Errorf("%s: %v", c.ref, err)
			continue
		}
		if got.Runbook.Artifact.Reference != c.want {
			t.Errorf("reference %q resolved to %q, want %q", c.ref, got.Runbook.Artifact.Reference, c.want)
		}
	}
}

// TestResolveVersionInReferenceOnlyKnownVariables: only ${version} and ${service} are
// known at deploy time; ${environment} differs per environment and stays
// as written (the validator refuses it in the artifact anyway).
func TestResolveVersionInReferenceOnlyKnownVariables(t *testing.T) {
	in := resolveIn(t)
	in.Version = "2.0.0"
	in.Runbook = sampleRunbook("https://a.example/${service}/${version}/${environment}/${version}", "")
	got, err := Resolve(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://a.example/checkout/2.0.0/${environment}/2.0.0"; got.Runbook.Artifact.Reference != want {
		t.Errorf("reference %q, want %q", got.Runbook.Artifact.Reference, want)
	}
}

// TestResolveCopiesTheRest: everything but the artifact travels unchanged.
func TestResolveCopiesTheRest(t *testing.T) {
	in := resolveIn(t)
	got, err := Resolve(in)
	if err != nil {
		t.Fatal(err)
	}
	if got.Requester != "alice" || got.Runbook.Service != "checkout" || got.Runbook.Owner != "team-payments" ||
		len(got.Runbook.Environments) != 1 || got.Runbook.Environments[0].Steps[0].Name != "smoke" {
		t.Errorf("resolved input lost fields: %+v", got)
	}
}

// TestResolveLocalPathWithColon: the validator treats a reference as a URL
// only when it has a scheme followed by "://" (runbooks.validator.reference);
// anything else is a local path relative to the runbook. Resolve must agree,
// or a file named e.g. checkout:1.4.2.tar passes validation, stays relative,
// and every worker refuses it ("relative paths mean nothing on a worker").
func TestResolveLocalPathWithColon(t *testing.T) {
	for _, ref := range []string{"checkout:${version}.tar", "build:7/app"} {
		in := resolveIn(t)
		in.Runbook = sampleRunbook(ref, "")
		got, err := Resolve(in)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		want := filepath.Join(filepath.Dir(in.Path), strings.ReplaceAll(ref, "${version}", "1.4.2"))
		if got.Runbook.Artifact.Reference != want {
			t.Errorf("local path %q resolved to %q, want %q", ref, got.Runbook.Artifact.Reference, want)
		}
	}
}

// TestResolveInfraModules: a relative infra.module is made absolute from
// the runbook's directory (the worker runs elsewhere), must hold a module,
// and the caller's runbook is left as it was.
func TestResolveInfraModules(t *testing.T) {
	dir := t.TempDir()
	rbDir := filepath.Join(dir, "runbooks")
	for _, m := range []string{"infra/staging", "infra/json-only", "infra/empty"} {
		if err := os.MkdirAll(filepath.Join(dir, m), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "infra/staging/main.tf"), []byte("# module\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "infra/json-only/main.tf.json"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	in := resolveIn(t)
	in.Path = filepath.Join(rbDir, "checkout.yaml")
	in.Runbook.Environments = []runbooks.Environment{
		{Name: "staging", Infra: &runbooks.Infra{Module: "../infra/staging", Vars: map[string]string{"v": "${version}"}}},
		{Name: "qa", Infra: &runbooks.Infra{Module: filepath.Join(dir, "infra/json-only")}},
		{Name: "production"}, // no infra: untouched
	}
	got, err := Resolve(in)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	envs := got.Runbook.Environments
	if m := envs[0].Infra.Module; m != filepath.Join(dir, "infra", "staging") {
		t.Errorf("staging module %q, want %q", m, filepath.Join(dir, "infra", "staging"))
	}
	if envs[0].Infra.Vars["v"] != "${version}" {
		t.Errorf("module vars changed: %v", envs[0].Infra.Vars)
	}
	if m := envs[1].Infra.Module; m != filepath.Join(dir, "infra", "json-only") {
		t.Errorf("qa module %q: an absolute module with only .tf.json files should pass unchanged", m)
	}
	if envs[2].Infra != nil {
		t.Errorf("production got an infra section: %+v", envs[2].Infra)
	}
	if m := in.Runbook.Environments[0].Infra.Module; m != "../infra/staging" {
		t.Errorf("Resolve changed the caller's runbook: staging module is now %q", m)
	}

	in.Runbook.Environments[0].Infra.Module = "../infra/empty"
	_, err = Resolve(in)
	want := "environment staging: infra.module " + filepath.Join(dir, "infra", "empty") + " holds no .tf files"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("module without .tf files: err = %v, want it to contain %q", err, want)
	}
	in.Runbook.Environments[0].Infra.Module = "../infra/typo"
	if _, err := Resolve(in); err == nil || !strings.Contains(err.Error(), "infra/typo holds no .tf files") {
		t.Errorf("missing module directory: err = %v", err)
	}
}
