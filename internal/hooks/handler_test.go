package hooks

import (
	"net/http"
	"strings"
	"testing"
)

func githubPush(tag string) string {
	return `{"ref":"refs/tags/` + tag + `","deleted":false,"repository":{"full_name":"acme/shop"},"pusher":{"name":"alice"},"sender":{"login":"alice"}}`
}

func githubHeaders(event, delivery, sig string) map[string]string {
	return map[string]string{"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": sig}
}

// want checks the answer's code and that its body holds every fragment.
func want(t *testing.T, w interface {
	Result() *http.Response
}, code int, body string, fragments ...string) {
	t.Helper()
	if got := w.Result().StatusCode; got != code {
		t.Fatalf("status %d, want %d; body %q", got, code, body)
	}
	for _, f := range fragments {
		if !strings.Contains(body, f) {
			t.Fatalf("body %q lacks %q", body, f)
		}
	}
}

func TestGitHub(t *testing.T) {
	h, rec := newHandler(t, githubTrigger+"    events: [tag, release]\n")
	push := githubPush("v1.4.2")

	w := post(h, githubHeaders("push", "d-1", githubSignature(testSecret, push)), push)
	want(t, w, http.StatusAccepted, w.Body.String(), "started release/shop/1.4.2")
	if len(rec.started) != 1 || !strings.Contains(rec.started[0], "1.4.2 sha256:") ||
		!strings.Contains(rec.started[0], "trigger:shop-tags started by webhook github acme/shop (d-1): tag v1.4.2 pushed by alice") {
		t.Fatalf("started %q", rec.started)
	}

	w = post(h, githubHeaders("push", "d-1", githubSignature(testSecret, push)), push)
	want(t, w, http.StatusOK, w.Body.String(), "duplicate delivery d-1")

	w = post(h, githubHeaders("push", "d-2", githubSignature("wrong-secret", push)), push)
	want(t, w, http.StatusUnauthorized, w.Body.String(), "signature does not match")
	w = post(h, githubHeaders("push", "d-3", ""), push)
	want(t, w, http.StatusUnauthorized, w.Body.String())

	issue := `{"action":"opened","repository":{"full_name":"acme/shop"}}`
	w = post(h, githubHeaders("issues", "d-4", githubSignature(testSecret, issue)), issue)
	want(t, w, http.StatusOK, w.Body.String(), "ignored: GitHub event issues")

	nightly := githubPush("nightly")
	w = post(h, githubHeaders("push", "d-5", githubSignature(testSecret, nightly)), nightly)
	want(t, w, http.StatusOK, w.Body.String(), "ignored: no trigger for github tag nightly of acme/shop")

	branch := strings.Replace(push, "refs/tags/v1.4.2", "refs/heads/main", 1)
	w = post(h, githubHeaders("push", "d-6", githubSignature(testSecret, branch)), branch)
	want(t, w, http.StatusOK, w.Body.String(), "not a new tag")

	w = post(h, githubHeaders("ping", "d-7", githubSignature(testSecret, "{}")), "{}")
	want(t, w, http.StatusOK, w.Body.String(), "pong")

	release := `{"action":"published","release":{"tag_name":"v1.5.0"},"repository":{"full_name":"acme/shop"},"sender":{"login":"bob"}}`
	w = post(h, githubHeaders("release", "d-8", githubSignature(testSecret, release)), release)
	// The artifact of 1.5.0 is missing: the start is refused, saying why.
	want(t, w, http.StatusConflict, w.Body.String(), "refused: digest of the artifact for 1.5.0")

	if len(rec.started) != 1 {
		t.Fatalf("only the first delivery may start a release; started %q", rec.started)
	}
}

func TestGitHubMissingDeliveryID(t *testing.T) {
	h, rec := newHandler(t, githubTrigger)
	push := githubPush("v1.4.2")
	w := post(h, githubHeaders("push", "", githubSignature(testSecret, push)), push)
	want(t, w, http.StatusBadRequest, w.Body.String(), "delivery ID")
	if len(rec.started) != 0 {
		t.Fatalf("started %q", rec.started)
	}
}

const gitlabTrigger = `  - name: shop-gitlab
    source: gitlab
    repository: acme/platform/shop
    runbook: RUNBOOK
    secret: env:SHOP_HOOK_SECRET
`

func TestGitLab(t *testing.T) {
	h, rec := newHandler(t, gitlabTrigger)
	tagPush := func(tag, after string) string {
		return `{"object_kind":"tag_push","ref":"refs/tags/` + tag + `","after":"` + after + `","user_username":"carol","project":{"path_with_namespace":"acme/platform/shop"}}`
	}
	hdr := func(event, token, uuid string) map[string]string {
		return map[string]string{"X-Gitlab-Event": event, "X-Gitlab-Token": token, "X-Gitlab-Event-UUID": uuid}
	}
	good := tagPush("v1.4.2", "5f3c1d2e")

	w := post(h, hdr("Tag Push Hook", testSecret, "u-1"), good)
	want(t, w, http.StatusAccepted, w.Body.String(), "started release/shop/1.4.2")
	if len(rec.started) != 1 || !strings.Contains(rec.started[0], "webhook gitlab acme/platform/shop (u-1): tag v1.4.2 pushed by carol") {
		t.Fatalf("started %q", rec.started)
	}
	w = post(h, hdr("Tag Push Hook", testSecret, "u-1"), good)
	want(t, w, http.StatusOK, w.Body.String(), "duplicate delivery u-1")

	w = post(h, hdr("Tag Push Hook", testSecret+"x", "u-2"), good)
	want(t, w, http.StatusUnauthorized, w.Body.String(), "signature does not match")

	w = post(h, hdr("Push Hook", testSecret, "u-3"), good)
	want(t, w, http.StatusOK, w.Body.String(), "ignored: GitLab event Push Hook")

	deleted := tagPush("v1.4.2", "0000000000000000000000000000000000000000")
	w = post(h, hdr("Tag Push Hook", testSecret, "u-4"), deleted)
	want(t, w, http.StatusOK, w.Body.String(), "not a new tag")

	// A release event when the trigger wants tags only.
	rel := `{"action":"create","tag":"v1.4.2","project":{"path_with_namespace":"acme/platform/shop"}}`
	w = post(h, hdr("Release Hook", testSecret, "u-5"), rel)
	want(t, w, http.StatusOK, w.Body.String(), "ignored: no trigger for gitlab release v1.4.2")

	if len(rec.started) != 1 {
		t.Fatalf("started %q", rec.started)
	}
}

const ociRunbook = `api-version: runbook/v1
service: shop
owner: team-shop
artifact:
  reference: oci://registry.example/acme/shop:${version}
environments:
  - name: staging
    steps:
      - name: smoke
        http-check:
          url: http://127.0.0.1:1/healthz
`

const ociTrigger = `  - name: shop-image
    source: oci
    repository: acme/shop
    tags: "v*"
    runbook: RUNBOOK
    secret: env:SHOP_HOOK_SECRET
`

func TestOCI(t *testing.T) {
	f, err := Load(writeFiles(t, ociRunbook, ociTrigger), env)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	h := &Handler{File: f, Starter: rec}
	digest := "sha256:" + strings.Repeat("ab", 32)
	envelope := func(id, action, repo, tag string) string {
		return `{"events":[{"id":"` + id + `","action":"` + action + `","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","repository":"` +
			repo + `","digest":"` + digest + `","tag":"` + tag + `"},"actor":{"name":"ci"}}]}`
	}
	bearer := map[string]string{"Authorization": "Bearer " + testSecret, "Content-Type": "application/vnd.docker.distribution.events.v1+json"}

	w := post(h, bearer, envelope("e-1", "push", "acme/shop", "v1.4.2"))
	want(t, w, http.StatusAccepted, w.Body.String(), "started release/shop/1.4.2")
	if len(rec.started) != 1 || !strings.Contains(rec.started[0], "1.4.2 "+digest+" trigger:shop-image") ||
		!strings.Contains(rec.started[0], "webhook oci acme/shop (e-1): tag v1.4.2 pushed ("+digest+") by ci") {
		t.Fatalf("started %q", rec.started)
	}
	w = post(h, bearer, envelope("e-1", "push", "acme/shop", "v1.4.2"))
	want(t, w, http.StatusOK, w.Body.String(), "duplicate delivery e-1")

	w = post(h, map[string]string{"Authorization": "Bearer nope"}, envelope("e-2", "push", "acme/shop", "v1.4.2"))
	want(t, w, http.StatusUnauthorized, w.Body.String(), "signature does not match")

	w = post(h, bearer, envelope("e-3", "pull", "acme/shop", "v1.4.2"))
	want(t, w, http.StatusOK, w.Body.String(), "ignored: no tag push")

	w = post(h, bearer, envelope("e-4", "push", "acme/other", "v1.4.2"))
	want(t, w, http.StatusOK, w.Body.String(), "ignored: no trigger for oci tag v1.4.2 of acme/other")
	w = post(h, bearer, envelope("e-5", "push", "acme/shop", "latest"))
	want(t, w, http.StatusOK, w.Body.String(), "ignored: no trigger for oci tag latest")

	if len(rec.started) != 1 {
		t.Fatalf("started %q", rec.started)
	}
}

func TestMethodAndBodyLimits(t *testing.T) {
	h, rec := newHandler(t, githubTrigger)
	req, w := httpGet()
	h.ServeHTTP(w, req)
	want(t, w, http.StatusMethodNotAllowed, w.Body.String())

	big := `{"pad":"` + strings.Repeat("x", MaxBody) + `"}`
	w2 := post(h, githubHeaders("push", "d-9", githubSignature(testSecret, big)), big)
	want(t, w2, http.StatusRequestEntityTooLarge, w2.Body.String())
	if len(rec.started) != 0 {
		t.Fatalf("started %q", rec.started)
	}
}
