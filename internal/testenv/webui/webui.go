// Package webui drives a headless Chromium for the tests that look at a web
// UI the way a person does: what the page shows, whether it shows it without
// scrolling, and what it writes to the console. The browser is the Debian
// chromium binary, driven through chromedp; each test gets its own browser
// with a fixed window size, so what fits on the screen does not depend on the
// machine.
package webui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/runbookhq/runbook/internal/testenv"
)

// Window is the browser's window and the page's viewport: a laptop
// screen, the one an SRE opens the UI on.
const Window = "1440x900"

const windowWidth, windowHeight = 1440, 900

// startTimeout bounds the browser's start and its first blank page.
const startTimeout = time.Minute

// FindChromium locates the browser: $RUNBOOK_CHROMIUM_BIN, else chromium on
// PATH (the Debian package `chromium`, which scripts/deps.sh installs).
func FindChromium() (string, error) {
	return testenv.FindBin("RUNBOOK_CHROMIUM_BIN",
		errors.New("chromium not found: install the Debian package chromium (make deps) or set RUNBOOK_CHROMIUM_BIN"),
		"chromium", "chromium-browser")
}

// Browser is one headless Chromium with one tab, for one test. It records
// every console message and uncaught page error from its start.
type Browser struct {
	t   testing.TB
	ctx context.Context // the tab's chromedp context
	// Artifacts is the directory screenshots are saved in.
	Artifacts string

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
	shots   int
}

// Start starts a browser for the test and stops it when the test ends.
// Without chromium the test is skipped on a developer's machine and fails
// when CI is set (testenv.RequireBin).
func Start(t testing.TB) *Browser {
	t.Helper()
	bin := testenv.RequireBin(t, FindChromium)
	b := &Browser{t: t, Artifacts: artifactsDir(t)}
	logf, err := os.Create(filepath.Join(b.Artifacts, "chromium.log"))
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.WindowSize(windowWidth, windowHeight),
		chromedp.UserDataDir(t.TempDir()),
		// Tests run as root in containers, where Chromium's sandbox cannot
		// start; the pages are the test's own local servers.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		// Sandboxed iframes (the Temporal UI renders markdown in one) stay
		// in the page's process, so they are frames of the page that a test
		// can read, not separate targets.
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,IsolateSandboxedIframes"),
		chromedp.Flag("disable-site-isolation-trials", true),
		chromedp.CombinedOutput(logf),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc() // waits for the browser process to exit
		_ = logf.Close()
	})
	b.ctx = ctx
	// The first Run starts the browser; it must run on the tab's own
	// context (a timeout there would stop the browser), so the deadline is
	// a watchdog that cancels it instead.
	watchdog := time.AfterFunc(startTimeout, cancel)
	// The window size includes the browser's own bars in headless mode
	// too; the page's viewport is set to the full size explicitly.
	err = chromedp.Do(ctx, chromedp.EmulateViewport(windowWidth, windowHeight), chromedp.Navigate("about:blank"))
	watchdog.Stop()
	if err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	b.collectConsole()
	t.Logf("webui: %s, window %s, artifacts in %s", bin, Window, b.Artifacts)
	return b
}

// artifactsDir is where a test's screenshots go: a directory per test under
// $RUNBOOK_TEST_ARTIFACTS (kept after the run, for CI to upload), else the
// test's temporary directory.
func artifactsDir(t testing.TB) string {
	t.Helper()
	root := os.Getenv("RUNBOOK_TEST_ARTIFACTS")
	if root == "" {
		return t.TempDir()
	}
	dir := filepath.Join(root, safeName(t.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func safeName(s string) string { return strings.Trim(unsafeChars.ReplaceAllString(s, "_"), "_") }

// collectConsole records the tab's console messages and page errors for as
// long as the browser lives.
func (b *Browser) collectConsole() {
	messages := chromedp.Console(b.ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()
}

// Console returns the console messages and uncaught page errors (type
// exception) recorded so far, in order.
func (b *Browser) Console() []chromedp.ConsoleMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]chromedp.ConsoleMessage(nil), b.console...)
}

// ConsoleContaining returns the recorded messages whose text contains s.
func (b *Browser) ConsoleContaining(s string) []chromedp.ConsoleMessage {
	var out []chromedp.ConsoleMessage
	for _, m := range b.Console() {
		if strings.Contains(m.Text, s) {
			out = append(out, m)
		}
	}
	return out
}

// Screenshot saves a full-page PNG of the tab as <n>-<name>.png in the
// artefacts directory, logs its path and returns it. A failure is logged,
// not fatal: a screenshot documents a test, it does not decide it.
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	b.mu.Lock()
	b.shots++
	path := filepath.Join(b.Artifacts, fmt.Sprintf("%02d-%s.png", b.shots, safeName(name)))
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(path, png, 0o644)
	}
	if err != nil {
		b.t.Logf("webui: screenshot %s: %v", name, err)
		return ""
	}
	b.t.Logf("webui: screenshot %s", path)
	return path
}
