package artifact

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"

	"go.temporal.io/sdk/temporal"
)

// kind is what a reference points at: the noun for messages, the error
// type when it is absent, and what to do about that for a file or a URL.
type kind struct {
	noun, missingType, fileHint, urlHint string
}

var (
	artifactKind = kind{"artifact", ErrTypeNotFound,
		"check the path and that the worker sees the build's filesystem",
		"check the URL and that the artifact was published"}
	reportKind = kind{"vulnerability report", ErrTypeNotFound,
		"check that the scan ran and the worker sees its output",
		"check the URL and that the scan's report was published"}
	signatureKind = kind{"signature", ErrTypeSignatureMissing,
		"sign the artifact with `cosign sign-blob --key cosign.key --output-signature <artifact>.sig <artifact>` or give the signature's location",
		"publish the signature `cosign sign-blob --output-signature` wrote next to the artifact, or give its URL"}
)

// open resolves a reference to a stream and a name safe to show in errors.
func (a *Activities) open(ctx context.Context, k kind, ref string) (io.ReadCloser, string, error) {
	if filepath.IsAbs(ref) {
		return openFile(k, ref)
	}
	u, err := url.Parse(ref)
	if err != nil {
		return nil, "", invalid(fmt.Sprintf("%s reference %q is not a path or URL: %v", k.noun, ref, err))
	}
	switch u.Scheme {
	case "file":
		if (u.Host != "" && u.Host != "localhost") || !filepath.IsAbs(u.Path) {
			return nil, "", invalid(fmt.Sprintf("%s reference %q must be file:///absolute/path on this worker", k.noun, ref))
		}
		return openFile(k, u.Path)
	case "http", "https":
		return a.fetch(ctx, k, u)
	}
	return nil, "", invalid(fmt.Sprintf(
		"%s reference %q must be an absolute path, a file:// URL or an http(s):// URL; relative paths mean nothing on a worker", k.noun, u.Redacted()))
}

// openFile opens a local file, telling missing files from transient errors.
func openFile(k kind, path string) (io.ReadCloser, string, error) {
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, path, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"%s %s does not exist on this worker; %s", k.noun, path, k.fileHint), k.missingType, err)
	case errors.Is(err, fs.ErrPermission):
		return nil, path, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"%s %s is not readable by the worker's user; fix its permissions", k.noun, path), ErrTypeUnreadable, err)
	case err != nil:
		return nil, path, temporal.NewApplicationErrorWithCause(fmt.Sprintf("open %s %s: %v", k.noun, path, err), ErrTypeRead, err)
	}
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		_ = f.Close()
		return nil, path, invalid(fmt.Sprintf("%s %s is a directory; pass the file itself", k.noun, path))
	}
	return f, path, nil
}

// fetch GETs an http(s) reference. The body is returned unread so it streams.
func (a *Activities) fetch(ctx context.Context, k kind, u *url.URL) (io.ReadCloser, string, error) {
	name := u.Redacted()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, name, invalid(fmt.Sprintf("%s reference %s: %v", k.noun, name, err))
	}
	resp, err := a.client().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, name, ctx.Err()
		}
		return nil, name, temporal.NewApplicationErrorWithCause(fmt.Sprintf("fetch %s %s: %v", k.noun, name, unwrapURLError(err)), ErrTypeRead, err)
	}
	if err := statusError(k, name, resp.StatusCode); err != nil {
		_ = resp.Body.Close()
		return nil, name, err
	}
	return resp.Body, name, nil
}

// statusError maps a non-200 status: missing is final, server trouble is retried,
// and other client errors would fail the same way again.
func statusError(k kind, name string, status int) error {
	msg := fmt.Sprintf("fetch %s %s: status %d", k.noun, name, status)
	switch {
	case status == http.StatusOK:
		return nil
	case status == http.StatusNotFound || status == http.StatusGone:
		return temporal.NewNonRetryableApplicationError(msg+"; "+k.urlHint, k.missingType, nil)
	case status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout:
		return temporal.NewApplicationError(msg, ErrTypeRead)
	default:
		return temporal.NewNonRetryableApplicationError(msg+"; the server refuses this request, check the worker's access to the store", ErrTypeUnreadable, nil)
	}
}

// unwrapURLError drops url.Error's method and URL, which the message already has.
func unwrapURLError(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}

// client returns the configured client or http.DefaultClient.
func (a *Activities) client() *http.Client {
	if a != nil && a.Client != nil {
		return a.Client
	}
	return http.DefaultClient
}
