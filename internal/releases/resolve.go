// Package releases is the client side of runbook: it resolves a runbook into
// a release input, starts releases, reads their status, and sends decisions
// to the environment that is running. The CLI and the demo use it.
package releases

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

var versionRE = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$`)

// ResolveInput is what Resolve needs to turn a runbook into a release.
type ResolveInput struct {
	Path      string
	Runbook   *runbooks.Runbook
	Version   string
	Digest    string
	Requester string
	// BreakGlassReason, when set, makes an emergency release.
	BreakGlassReason string
	// Build is the build metadata given at deploy time, if any.
	Build *workflows.BuildInfo
}

// Resolve produces the Release workflow input: version checked, artifact
// reference expanded and made absolute (workers may run elsewhere), digest
// taken from --digest or the runbook (they must agree when both are given).
func Resolve(in ResolveInput) (workflows.ReleaseInput, error) {
	if !versionRE.MatchString(in.Version) {
		return workflows.ReleaseInput{}, fmt.Errorf("version %q is not valid: use letters, digits and . + _ - (at most 64), e.g. 1.4.2", in.Version)
	}
	if strings.TrimSpace(in.Requester) == "" {
		return workflows.ReleaseInput{}, fmt.Errorf("requester is empty: pass --as NAME")
	}
	rb := *in.Runbook
	digest, err := pickDigest(rb.Artifact.Digest, in.Digest)
	if err != nil {
		return workflows.ReleaseInput{}, err
	}
	vars := map[string]string{"version": in.Version, "service": rb.Service}
	ref, err := resolveReference(runbooks.Expand(rb.Artifact.Reference, vars), filepath.Dir(in.Path))
	if err != nil {
		return workflows.ReleaseInput{}, err
	}
	vars["artifact"] = ref
	if rb.Artifact, err = resolveTrust(rb.Artifact, vars, filepath.Dir(in.Path)); err != nil {
		return workflows.ReleaseInput{}, err
	}
	rb.Artifact.Reference, rb.Artifact.Digest = ref, digest
	if rb.Environments, err = resolveModules(rb.Environments, filepath.Dir(in.Path)); err != nil {
		return workflows.ReleaseInput{}, err
	}
	if rb.Environments, err = resolveDatabases(rb.Environments, filepath.Dir(in.Path)); err != nil {
		return workflows.ReleaseInput{}, err
	}
	// A manual promotion is a gate at the start of the next environment.
	rb = runbooks.WithPromotionGates(rb)
	abs, _ := filepath.Abs(in.Path)
	out := workflows.ReleaseInput{Runbook: rb, Version: in.Version, Digest: digest, Requester: in.Requester, RunbookFile: abs, Build: in.Build}
	if in.BreakGlassReason != "" {
		if rb.Policy.BreakGlass == nil || len(rb.Policy.BreakGlass.Approvers) == 0 {
			return workflows.ReleaseInput{}, fmt.Errorf("--break-glass needs an emergency group to approve it: add policy.break-glass.approvers to %s", in.Path)
		}
		out.BreakGlass = &workflows.BreakGlassRequest{Reason: strings.TrimSpace(in.BreakGlassReason)}
	}
	return out, nil
}

func pickDigest(fromRunbook, fromFlag string) (string, error) {
	switch {
	case fromFlag == "" && fromRunbook == "":
		return "", fmt.Errorf("no artifact digest: add artifact.digest to the runbook or pass --digest sha256:<hex> (sha256sum prints it)")
	case fromFlag != "" && fromRunbook != "" && fromFlag != fromRunbook:
		return "", fmt.Errorf("--digest %s differs from artifact.digest %s in the runbook; drop one", fromFlag, fromRunbook)
	case fromFlag != "":
		if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(fromFlag) {
			return "", fmt.Errorf("--digest %q must look like sha256:<64 lowercase hex digits>", fromFlag)
		}
		return fromFlag, nil
	}
	return fromRunbook, nil
}

// resolveReference makes a local artifact path absolute, relative to the
// runbook's directory; URLs pass unchanged.
func resolveReference(ref, dir string) (string, error) {
	// Only the schemes the artifact check reads make a URL; "build:7/app"
	// is a relative path with a colon in it.
	if u, err := url.Parse(ref); err == nil {
		switch strings.ToLower(u.Scheme) {
		case "http", "https", "file", "oci":
			return ref, nil
		}
	}
	if filepath.IsAbs(ref) {
		return ref, nil
	}
	return filepath.Abs(filepath.Join(dir, ref))
}

// resolveModules makes every environment's infra module path absolute
// (relative paths are relative to the runbook) and checks that it holds a
// module, so a typo fails here and not in the middle of a release.
func resolveModules(envs []runbooks.Environment, dir string) ([]runbooks.Environment, error) {
	out := make([]runbooks.Environment, len(envs))
	copy(out, envs)
	for i := range out {
		if out[i].Infra == nil {
			continue
		}
		infra := *out[i].Infra
		mod := infra.Module
		if !filepath.IsAbs(mod) {
			mod = filepath.Join(dir, mod)
		}
		mod, err := filepath.Abs(mod)
		if err != nil {
			return nil, err
		}
		tf, _ := filepath.Glob(filepath.Join(mod, "*.tf"))
		tfjson, _ := filepath.Glob(filepath.Join(mod, "*.tf.json"))
		if len(tf)+len(tfjson) == 0 {
			return nil, fmt.Errorf("environment %s: infra.module %s holds no .tf files; point it at an OpenTofu/Terraform module directory", out[i].Name, mod)
		}
		infra.Module = mod
		out[i].Infra = &infra
	}
	return out, nil
}

// resolveTrust reads the signature's public key (a path relative to the
// runbook, unless the PEM is written inline) and makes the signature and
// vulnerability report references absolute, so the worker gets everything
// it needs and a missing key fails here, before anything starts.
func resolveTrust(a runbooks.Artifact, vars map[string]string, dir string) (runbooks.Artifact, error) {
	if a.Signature != nil {
		sig := *a.Signature
		if !strings.HasPrefix(strings.TrimSpace(sig.PublicKey), "-----BEGIN") {
			path := sig.PublicKey
			if !filepath.IsAbs(path) {
				path = filepath.Join(dir, path)
			}
			pem, err := os.ReadFile(path)
			if err != nil {
				return a, fmt.Errorf("artifact.signature.public-key: %w; give the path of the public key (cosign.pub) relative to the runbook", err)
			}
			sig.PublicKey = string(pem)
		}
		if sig.Signature != "" {
			ref, err := resolveReference(runbooks.Expand(sig.Signature, vars), dir)
			if err != nil {
				return a, err
			}
			sig.Signature = ref
		}
		a.Signature = &sig
	}
	if a.Vulnerabilities != nil {
		v := *a.Vulnerabilities
		ref, err := resolveReference(runbooks.Expand(v.Report, vars), dir)
		if err != nil {
			return a, err
		}
		v.Report = ref
		a.Vulnerabilities = &v
	}
	return a, nil
}
