package terraform

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func listFiles(t *testing.T, root string) []string {
	t.Helper()
	var got []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		got = append(got, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	return got
}

// The working directory gets the module's configuration and keeps
// OpenTofu's own files; a file deleted from the module disappears from the
// working directory on the next call, so the module as it is now wins.
func TestUseConfigCopiesAndPrunes(t *testing.T) {
	module, dir := t.TempDir(), t.TempDir()
	writeFiles(t, module, map[string]string{
		"main.tf": "a", "extra.tf": "b", "x.tf.json": "{}", "tpl.tftpl": "t", ".terraform.lock.hcl": "l",
		"README.md": "not config", "terraform.tfstate": "module's stray state", ".terraform/junk": "j",
		"modules/net/main.tf": "n", "modules/net/.terraform/junk": "j", "scripts/deploy.sh": "s",
	})
	writeFiles(t, dir, map[string]string{"terraform.tfstate": "ours", ".terraform/providers": "p"})
	w := &workdir{dir: dir, ws: Workspace{Service: "s", Environment: "e", Module: module}}
	if err := os.MkdirAll(w.meta(plansDir), 0o700); err != nil {
		t.Fatal(err)
	}
	d1, err := w.useModule()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{".runbook/module.json", ".terraform.lock.hcl", ".terraform/providers", "extra.tf", "main.tf",
		"modules/net/main.tf", "scripts/deploy.sh", "terraform.tfstate", "tpl.tftpl", "x.tf.json"}
	if got := listFiles(t, dir); !slices.Equal(got, want) {
		t.Fatalf("working directory has\n%v\nwant\n%v", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "terraform.tfstate")); string(b) != "ours" {
		t.Errorf("state overwritten with %q", b)
	}
	for _, gone := range []string{"extra.tf", "modules"} {
		if err := os.RemoveAll(filepath.Join(module, gone)); err != nil {
			t.Fatal(err)
		}
	}
	d2, err := w.useModule()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range listFiles(t, dir) {
		if f == "extra.tf" || strings.HasPrefix(f, "modules/") {
			t.Errorf("%s survived its removal from the module", f)
		}
	}
	if d1 == d2 || !strings.HasPrefix(d1, "sha256:") {
		t.Errorf("digests %q and %q: want distinct sha256 digests", d1, d2)
	}
}

func TestOpenValidates(t *testing.T) {
	a := &Activities{Bin: "/bin/sh", StateDir: t.TempDir()}
	for _, ws := range []Workspace{
		{Service: "../etc", Environment: "prod"},
		{Service: "checkout", Environment: ".."},
		{Service: "check out", Environment: "prod"},
		{Service: "", Environment: "prod"},
	} {
		if _, _, err := a.open(ws); err == nil {
			t.Errorf("open(%q, %q) accepted", ws.Service, ws.Environment)
		} else {
			appErr(t, err, ErrInvalid, true)
		}
	}
	if _, _, err := (&Activities{Bin: "/bin/sh"}).open(Workspace{Service: "a", Environment: "b"}); err == nil {
		t.Error("open without a StateDir accepted")
	}
}

func TestOpenIsExclusive(t *testing.T) {
	a := &Activities{Bin: "/bin/sh", StateDir: t.TempDir()}
	ws := Workspace{Service: "checkout", Environment: "prod"}
	_, release, err := a.open(ws)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = a.open(ws)
	appErr(t, err, ErrLocked, false)
	release()
	_, release, err = a.open(ws)
	if err != nil {
		t.Fatalf("open after release: %v", err)
	}
	release()
}

func TestResolveVars(t *testing.T) {
	t.Setenv("TFTEST_RESOLVE", "the-secret")
	v, err := resolve("s/e", map[string]string{"a": "plain", "b": "env:TFTEST_RESOLVE"}, "1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	if v.vars["a"] != "plain" || v.vars["b"] != "the-secret" || v.vars[VersionVar] != "1.2.3" {
		t.Errorf("vars %v", v.vars)
	}
	if !slices.Equal(v.secrets, []string{"the-secret"}) {
		t.Errorf("secrets %v", v.secrets)
	}
	_, err = resolve("s/e", map[string]string{"b": "env:TFTEST_UNSET_VAR"}, "1")
	if ae := appErr(t, err, ErrInvalid, true); !strings.Contains(ae.Error(), "TFTEST_UNSET_VAR") {
		t.Errorf("message %q does not name the variable", ae.Error())
	}
	_, err = resolve("s/e", map[string]string{VersionVar: "9"}, "1")
	appErr(t, err, ErrInvalid, true)
	_, err = resolve("s/e", map[string]string{"bad name": "x"}, "1")
	appErr(t, err, ErrInvalid, true)
}

func TestDiscover(t *testing.T) {
	t.Setenv(BinEnv, filepath.Join(t.TempDir(), "missing"))
	if _, err := Discover(); err == nil || !strings.Contains(err.Error(), "make tools") {
		t.Errorf("Discover with a missing %s = %v, want an error with the install hint", BinEnv, err)
	}
	bin := filepath.Join(t.TempDir(), "tofu")
	writeFiles(t, filepath.Dir(bin), map[string]string{"tofu": "#!/bin/sh\n"})
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(BinEnv, bin)
	if got, err := Discover(); err != nil || got != bin {
		t.Errorf("Discover = %q, %v; want %q", got, err, bin)
	}
	root := t.TempDir()
	writeFiles(t, root, map[string]string{".tools/bin/tofu": "#!/bin/sh\n", "a/b/c/.keep": ""})
	if err := os.Chmod(filepath.Join(root, ".tools/bin/tofu"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := findUp(filepath.Join(root, "a/b/c"), toolsTofu); got != filepath.Join(root, ".tools/bin/tofu") {
		t.Errorf("findUp = %q", got)
	}
}
