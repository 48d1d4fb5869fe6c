package artifact

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
)

const content = "checkout-1.4.2 build output\n"

// known is the digest of content, computed independently of the package.
func known(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func writeFile(t testing.TB, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "checkout.tar.gz")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func appErr(t *testing.T, err error, typ string, nonRetryable bool) *temporal.ApplicationError {
	t.Helper()
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want an ApplicationError", err)
	}
	if ae.Type() != typ || ae.NonRetryable() != nonRetryable {
		t.Fatalf("err type %q non-retryable %v, want %q %v (%v)", ae.Type(), ae.NonRetryable(), typ, nonRetryable, err)
	}
	return ae
}

func verify(t *testing.T, ref, digest string) (VerifyArtifactResult, error) {
	t.Helper()
	return (&Activities{}).VerifyArtifact(t.Context(), VerifyArtifactInput{Reference: ref, Digest: digest})
}

func TestFileMatch(t *testing.T) {
	path := writeFile(t, content)
	for _, ref := range []string{path, "file://" + path} {
		res, err := verify(t, ref, known(content))
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if res.Digest != known(content) || res.Size != int64(len(content)) {
			t.Errorf("%s: result %+v", ref, res)
		}
	}
}

func TestUppercaseDigestAccepted(t *testing.T) {
	path := writeFile(t, content)
	upper := "sha256:" + strings.ToUpper(strings.TrimPrefix(known(content), "sha256:"))
	if _, err := verify(t, path, upper); err != nil {
		t.Errorf("uppercase hex: %v", err)
	}
}

func TestFileMismatch(t *testing.T) {
	path := writeFile(t, content)
	old := known("checkout-1.4.1")
	_, err := verify(t, path, old)
	ae := appErr(t, err, ErrTypeMismatch, true)
	msg := ae.Message()
	for _, want := range []string{known(content), old, "rebuild or pass the right --digest"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
}

func TestFileMissing(t *testing.T) {
	_, err := verify(t, filepath.Join(t.TempDir(), "nope.tar.gz"), known(content))
	appErr(t, err, ErrTypeNotFound, true)
}

func TestDirectoryIsInvalid(t *testing.T) {
	_, err := verify(t, t.TempDir(), known(content))
	appErr(t, err, ErrTypeInvalid, true)
}

func TestInvalidInput(t *testing.T) {
	path := writeFile(t, content)
	good := known(content)
	for name, in := range map[string]VerifyArtifactInput{
		"no prefix":      {Reference: path, Digest: strings.TrimPrefix(good, "sha256:")},
		"short":          {Reference: path, Digest: good[:70]},
		"not hex":        {Reference: path, Digest: "sha256:" + strings.Repeat("z", 64)},
		"md5":            {Reference: path, Digest: "md5:d41d8cd98f00b204e9800998ecf8427e"},
		"relative path":  {Reference: "build/checkout.tar.gz", Digest: good},
		"s3 scheme":      {Reference: "s3://bucket/checkout.tar.gz", Digest: good},
		"remote file":    {Reference: "file://buildhost" + path, Digest: good},
		"relative file:": {Reference: "file:checkout.tar.gz", Digest: good},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := (&Activities{}).VerifyArtifact(t.Context(), in)
			appErr(t, err, ErrTypeInvalid, true)
		})
	}
}

func TestHTTPMatchAnd404(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/artifacts/checkout-1.4.2.tar.gz" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, content)
	}))
	t.Cleanup(srv.Close)

	res, err := verify(t, srv.URL+"/artifacts/checkout-1.4.2.tar.gz", known(content))
	if err != nil || res.Size != int64(len(content)) {
		t.Fatalf("served artifact: %+v, %v", res, err)
	}
	_, err = verify(t, srv.URL+"/artifacts/checkout-9.9.9.tar.gz", known(content))
	appErr(t, err, ErrTypeNotFound, true)
}

func TestHTTPStatusRetryability(t *testing.T) {
	var status atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(int(status.Load()))
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		status       int
		typ          string
		nonRetryable bool
	}{
		{503, ErrTypeRead, false},
		{500, ErrTypeRead, false},
		{429, ErrTypeRead, false},
		{410, ErrTypeNotFound, true},
		{403, ErrTypeUnreadable, true},
	} {
		status.Store(int32(tc.status))
		_, err := verify(t, srv.URL+"/a", known(content))
		appErr(t, err, tc.typ, tc.nonRetryable)
	}
}

func TestHTTPConnectionErrorRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := verify(t, url+"/a", known(content))
	appErr(t, err, ErrTypeRead, false)
}

func TestCancelStopsRead(t *testing.T) {
	path := writeFile(t, content)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := (&Activities{}).VerifyArtifact(ctx, VerifyArtifactInput{Reference: path, Digest: known(content)})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestCancelDuringHTTPStream(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", 1<<16))
		w.(http.Flusher).Flush()
		cancel() // the client has headers and some body; now the release is aborted
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	_, err := (&Activities{}).VerifyArtifact(ctx, VerifyArtifactInput{Reference: srv.URL, Digest: known(content)})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestFileDigest(t *testing.T) {
	path := writeFile(t, content)
	d, err := FileDigest(path)
	if err != nil || d != known(content) {
		t.Errorf("FileDigest = %q, %v; want %q", d, err, known(content))
	}
	if _, err := FileDigest(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("FileDigest of a missing file: %v", err)
	}
}

func TestProgressHeartbeatsAtMostEverySecond(t *testing.T) {
	clock := time.Unix(0, 0)
	var beats []int64
	p := newProgress(t.Context(), strings.NewReader(strings.Repeat("x", 100)), func(n int64) { beats = append(beats, n) })
	p.every = time.Second
	p.now = func() time.Time { return clock }
	p.last = clock
	buf := make([]byte, 10)
	for _, step := range []time.Duration{300, 300, 300, 300, 2000, 100, 100, 900} {
		clock = clock.Add(step * time.Millisecond)
		if _, err := p.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
	// At 1.2s (40 bytes), 3.2s (50 bytes) and 4.3s (80 bytes).
	if want := []int64{40, 50, 80}; !slices.Equal(beats, want) {
		t.Errorf("heartbeats = %v, want %v", beats, want)
	}
}

func TestVerifyArtifactInActivityEnvironment(t *testing.T) {
	data := strings.Repeat("artifact bytes ", 300_000) // several 1 MiB buffers
	path := writeFile(t, data)
	heartbeatEvery = 0 // beat on every buffer so the listener sees one quickly
	t.Cleanup(func() { heartbeatEvery = time.Second })

	a := &Activities{}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	var lastBeat atomic.Int64
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) {
		var n int64
		if err := details.Get(&n); err == nil {
			lastBeat.Store(n)
		}
	})

	val, err := env.ExecuteActivity(a.VerifyArtifact, VerifyArtifactInput{Reference: path, Digest: known(data)})
	if err != nil {
		t.Fatalf("ExecuteActivity: %v", err)
	}
	var res VerifyArtifactResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	if res.Size != int64(len(data)) || res.Digest != known(data) {
		t.Errorf("result = %+v", res)
	}
	if n := lastBeat.Load(); n <= 0 || n > res.Size {
		t.Errorf("heartbeat progress = %d bytes, want within (0, %d]", n, res.Size)
	}

	_, err = env.ExecuteActivity(a.VerifyArtifact, VerifyArtifactInput{Reference: path, Digest: known("other")})
	appErr(t, err, ErrTypeMismatch, true)
}

func BenchmarkVerify(b *testing.B) {
	const size = 64 << 20
	path := filepath.Join(b.TempDir(), "big.bin")
	chunk := []byte(strings.Repeat("0123456789abcdef", 1<<16)) // 1 MiB
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	for range size / len(chunk) {
		if _, err := f.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	want, err := FileDigest(path)
	if err != nil {
		b.Fatal(err)
	}
	a := &Activities{}
	in := VerifyArtifactInput{Reference: path, Digest: want}
	b.SetBytes(size)
	for b.Loop() {
		if _, err := a.VerifyArtifact(b.Context(), in); err != nil {
			b.Fatal(err)
		}
	}
}
