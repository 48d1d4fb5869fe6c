package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// pdfTimeout bounds the browser's run: a page with no script prints in
// seconds.
const pdfTimeout = 2 * time.Minute

// findChromium locates the browser: $RUNBOOK_CHROMIUM_BIN, else chromium
// on PATH.
func findChromium() (string, error) {
	if p := os.Getenv("RUNBOOK_CHROMIUM_BIN"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("--format pdf needs a headless Chromium: install the Debian package chromium (apt-get install chromium) or set RUNBOOK_CHROMIUM_BIN; --format html gives the same page")
}

// printPDF prints the HTML page to PDF with headless Chromium, from a
// private temporary directory that is removed afterwards.
func printPDF(ctx context.Context, page []byte) ([]byte, error) {
	bin, err := findChromium()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "runbook-report-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	in, out := filepath.Join(dir, "report.html"), filepath.Join(dir, "report.pdf")
	if err := os.WriteFile(in, page, 0o600); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, pdfTimeout)
	defer cancel()
	args := []string{"--headless", "--disable-gpu", "--no-pdf-header-footer", "--user-data-dir=" + filepath.Join(dir, "profile"),
		"--print-to-pdf=" + out, "file://" + in}
	if os.Geteuid() == 0 {
		// Chromium's sandbox cannot start as root (containers); the page
		// is our own, without script.
		args = append([]string{"--no-sandbox"}, args...)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s --print-to-pdf: %w: %s", bin, err, tail(stderr.String(), 500))
	}
	pdf, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("%s wrote no PDF: %s", bin, tail(stderr.String(), 500))
	}
	return pdf, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
