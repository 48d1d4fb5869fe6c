package oci

import (
	"strings"
	"testing"
)

var hexA = strings.Repeat("a", 64)

func TestParseReference(t *testing.T) {
	for _, tc := range []struct {
		in, ident, str string
		want           Reference
	}{
		{"oci://127.0.0.1:5000/team/checkout:1.4.2", "1.4.2", "",
			Reference{Registry: "127.0.0.1:5000", Repository: "team/checkout", Tag: "1.4.2"}},
		{"oci://registry.example/checkout@sha256:" + strings.ToUpper(hexA), "sha256:" + hexA, "oci://registry.example/checkout@sha256:" + hexA,
			Reference{Registry: "registry.example", Repository: "checkout", Digest: "sha256:" + hexA}},
		{"oci://localhost:5000/a/b:v1@sha256:" + hexA, "sha256:" + hexA, "",
			Reference{Registry: "localhost:5000", Repository: "a/b", Tag: "v1", Digest: "sha256:" + hexA}},
		{"oci://ghcr.io/org/app", "latest", "",
			Reference{Registry: "ghcr.io", Repository: "org/app"}},
		{"oci://[::1]:5000/my-app_x.y:V1.2_rc-3", "V1.2_rc-3", "",
			Reference{Registry: "[::1]:5000", Repository: "my-app_x.y", Tag: "V1.2_rc-3"}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseReference(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || got.Identifier() != tc.ident {
				t.Errorf("got %+v (%s), want %+v (%s)", got, got.Identifier(), tc.want, tc.ident)
			}
			str := tc.str
			if str == "" {
				str = tc.in
			}
			if got.String() != str {
				t.Errorf("String() = %q, want %q", got.String(), str)
			}
		})
	}
}

func TestParseReferenceErrors(t *testing.T) {
	for _, in := range []string{
		"https://registry.example/checkout:1",
		"oci://",
		"oci://registry.example",
		"oci://registry.example/",
		"oci://user:secret@registry.example/checkout",
		"oci://registry.example/Checkout:1",
		"oci://registry.example/checkout:",
		"oci://registry.example/checkout:bad tag",
		"oci://registry.example/checkout@sha256:abc",
		"oci://registry.example/checkout@md5:" + hexA[:32],
		"oci://registry.example/checkout?tag=1",
		"oci://registry.example//checkout",
		"oci://-bad-.example/checkout",
	} {
		if ref, err := ParseReference(in); err == nil {
			t.Errorf("ParseReference(%q) = %+v, want an error", in, ref)
		}
	}
}

func TestEndpoint(t *testing.T) {
	for host, want := range map[string]string{
		"127.0.0.1:5000":   "http://127.0.0.1:5000",
		"127.1.2.3":        "http://127.1.2.3",
		"localhost:5000":   "http://localhost:5000",
		"[::1]:5000":       "http://[::1]:5000",
		"registry.example": "https://registry.example",
		"10.0.0.5:5000":    "https://10.0.0.5:5000",
		"localhost.evil":   "https://localhost.evil",
		"docker.io":        "https://registry-1.docker.io",
	} {
		if got := (Reference{Registry: host}).endpoint(); got != want {
			t.Errorf("endpoint(%s) = %s, want %s", host, got, want)
		}
	}
}

func TestParseChallenge(t *testing.T) {
	for _, tc := range []struct {
		in     string
		scheme string
		params map[string]string
	}{
		{`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"`, "Bearer",
			map[string]string{"realm": "https://auth.docker.io/token", "service": "registry.docker.io", "scope": "repository:library/alpine:pull"}},
		{`Bearer realm="https://ghcr.io/token", service="ghcr.io", scope="repository:a/b:pull,push"`, "Bearer",
			map[string]string{"realm": "https://ghcr.io/token", "service": "ghcr.io", "scope": "repository:a/b:pull,push"}},
		{`Basic realm="Registry Realm"`, "Basic", map[string]string{"realm": "Registry Realm"}},
		{`Bearer realm=https://r.example/t,error="insufficient_scope",note="say \"hi\""`, "Bearer",
			map[string]string{"realm": "https://r.example/t", "error": "insufficient_scope", "note": `say "hi"`}},
		{``, "", map[string]string{}},
	} {
		scheme, params := parseChallenge(tc.in)
		if scheme != tc.scheme || len(params) != len(tc.params) {
			t.Errorf("parseChallenge(%q) = %s %v, want %s %v", tc.in, scheme, params, tc.scheme, tc.params)
			continue
		}
		for k, v := range tc.params {
			if params[k] != v {
				t.Errorf("parseChallenge(%q)[%s] = %q, want %q", tc.in, k, params[k], v)
			}
		}
	}
}

func TestDockerHubOfficialImages(t *testing.T) {
	for ref, want := range map[string]string{
		"oci://docker.io/alpine:3":          "library/alpine",
		"oci://index.docker.io/org/app:1":   "org/app",
		"oci://registry.example/alpine:3.2": "alpine",
	} {
		r, err := ParseReference(ref)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.apiRepository(); got != want {
			t.Errorf("%s: API repository %q, want %q", ref, got, want)
		}
	}
}
