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

// open resolves a reference to a stream and a name safe to show in errors.
func (a *Activities) open(ctx context.Context, ref string) (io.ReadCloser, string, error) {
	if filepath.IsAbs(ref) {
		return openFile(ref)
	}
	u, err := url.Parse(ref)
	if err != nil {
		return nil, "", invalid(fmt.Sprintf("reference %q is not a path or URL: %v", ref, err))
	}
	switch u.Scheme {
	case "file":
		if (u.Host != "" && u.Host != "localhost") || !filepath.IsAbs(u.Path) {
			return nil, "", invalid(fmt.Sprintf("reference %q must be file:///absolute/path on this worker", ref))
		}
		return openFile(u.Path)
	case "http", "https":
		return a.fetch(ctx, u)
	}
	return nil, "", invalid(fmt.Sprintf(
		"reference %q must be an absolute path, a file:// URL or an http(s):// URL; relative paths mean nothing on a worker", u.Redacted()))
}

// openFile opens a local artifact, telling missing files from transient errors.
func openFile(path string) (io.ReadCloser, string, error) {
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, path, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"artifact %s does not exist on this worker; check the path and that the worker sees the build's filesystem", path),
			ErrTypeNotFound, err)
	case errors.Is(err, fs.ErrPermission):
		return nil, path, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"artifact %s is not readable by the worker's user; fix its permissions", path), ErrTypeUnreadable, err)
	case err != nil:
		return nil, path, temporal.NewApplicationErrorWithCause(fmt.Sprintf("open artifact %s: %v", path, err), ErrTypeRead, err)
	}
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		_ = f.Close()
		return nil, path, invalid(fmt.Sprintf("artifact %s is a directory; pass the file that was built", path))
	}
	return f, path, nil
}

// fetch GETs an http(s) artifact. The body is returned unread so it streams.
func (a *Activities) fetch(ctx context.Context, u *url.URL) (io.ReadCloser, string, error) {
	name := u.Redacted()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, name, invalid(fmt.Sprintf("reference %s: %v", name, err))
	}
	resp, err := a.client().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, name, ctx.Err()
		}
		return nil, name, temporal.NewApplicationErrorWithCause(fmt.Sprintf("fetch artifact %s: %v", name, unwrapURLError(err)), ErrTypeRead, err)
	}
	if err := statusError(name, resp.StatusCode); err != nil {
		_ = resp.Body.Close()
		return nil, name, err
	}
	return resp.Body, name, nil
}

// statusError maps a non-200 status: missing is final, server trouble is retried,
// and other client errors would fail the same way again.
func statusError(name string, status int) error {
	msg := fmt.Sprintf("fetch artifact %s: status %d", name, status)
	switch {
	case status == http.StatusOK:
		return nil
	case status == http.StatusNotFound || status == http.StatusGone:
		return temporal.NewNonRetryableApplicationError(msg+"; check the URL and that the artifact was published", ErrTypeNotFound, nil)
	case status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout:
		return temporal.NewApplicationError(msg, ErrTypeRead)
	default:
		return temporal.NewNonRetryableApplicationError(msg+"; the server refuses this request, check access to the artifact store", ErrTypeUnreadable, nil)
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
