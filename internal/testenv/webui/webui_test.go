package webui

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/testenv"
)

// framed is a page whose details live in a sandboxed srcdoc iframe of fixed
// height, as the Temporal UI renders markdown: the first row fits, the last
// is below the frame's fold, and a table in a scrolling box hides its last
// cell. It logs a console error once the frame is there.
const framed = `<!doctype html><html><body style="margin:0">
<h1 id="title">Release checkout</h1>
<h3>Summary</h3><iframe srcdoc="<p>the summary</p>" style="height:40px"></iframe>
<h3>Details</h3><p>No details available</p>
<h3>Current Details</h3>
<iframe id="details" sandbox style="height:120px;width:600px;border:0" srcdoc="
<body style='margin:0;font:16px sans-serif'>
<p>FIRST ROW</p>
<div style='height:400px'></div>
<p>LAST ROW</p>
<div id='box' style='height:40px;overflow:auto'><div style='height:30px'>BOX TOP</div><div>BOX HIDDEN</div></div>
<div style='height:200px'></div>
</body>"></iframe>
<script>
document.getElementById("details").addEventListener("load", () => {
  document.getElementById("title").dataset.ready = "yes";
  console.error("Could not parse payload: test");
});
setTimeout(() => { throw new Error("late page error") }, 0);
</script>
</body></html>`

func servePage(t *testing.T, html string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(html))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestBrowserFramesVisibilityConsole(t *testing.T) {
	b := Start(t)
	if err := b.Open(servePage(t, framed)); err != nil {
		t.Fatal(err)
	}
	b.WaitText(Top, "#title[data-ready=yes]", "Release checkout", 20*time.Second)
	frame := In("#details")
	got := b.WaitText(frame, "body", "LAST ROW", 10*time.Second)
	if !strings.Contains(got, "FIRST ROW") {
		t.Errorf("frame text %q lacks FIRST ROW", got)
	}
	if got := b.WaitText(Under("Summary"), "body", "the summary", 10*time.Second); strings.Contains(got, "ROW") {
		t.Errorf("Under(Summary) read the details frame: %q", got)
	}
	if got := b.WaitText(Under("Current Details"), "body", "LAST ROW", 10*time.Second); strings.Contains(got, "summary") {
		t.Errorf("Under(Current Details) read the summary frame: %q", got)
	}
	if got, err := b.Text(Under("Details"), "body"); err == nil {
		t.Errorf("Under(Details), a section without an iframe, read %q; want an error", got)
	}
	if _, err := b.Text(In("#nope"), "body"); err == nil {
		t.Errorf("reading a missing iframe: want an error")
	}
	if _, err := b.Text(In("#title"), "body"); err == nil || !strings.Contains(err.Error(), "not an iframe") {
		t.Errorf("reading an h1 as an iframe: want 'not an iframe', got %v", err)
	}

	for _, c := range []struct {
		text      string
		inView    bool
		clippedBy string
	}{
		{"FIRST ROW", true, ""},
		{"LAST ROW", false, "viewport"},
		{"Release checkout", false, ""}, // not in the frame's document at all
	} {
		p, err := b.Place(frame, c.text)
		if err != nil {
			t.Fatal(err)
		}
		wantFound := c.text != "Release checkout"
		if p.Found != wantFound || p.InView != c.inView || p.ClippedBy != c.clippedBy {
			t.Errorf("Place(%q) = %+v; want found %v, in view %v, clipped by %q", c.text, p, wantFound, c.inView, c.clippedBy)
		}
	}
	// Scroll the frame so the box is in the viewport: its second line is
	// still hidden by the box's own scrolling.
	if err := b.Eval(frame, `document.getElementById("box").scrollIntoView()`, nil); err != nil {
		t.Fatal(err)
	}
	if p, err := b.Place(frame, "BOX HIDDEN"); err != nil || p.InView || p.ClippedBy != "div#box" {
		t.Errorf("Place(BOX HIDDEN) = %+v, %v; want hidden by div#box", p, err)
	}
	if p, err := b.Place(Top, "Release checkout"); err != nil || !p.InView || p.Height != windowHeight {
		t.Errorf("Place(title in page) = %+v, %v; want in view in a %d px viewport", p, err, windowHeight)
	}

	// Console events arrive on their own; wait for the exception, the last.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = testenv.Poll(ctx, func(context.Context) (bool, error) { return len(b.ConsoleContaining("late page error")) > 0, nil })
	if got := b.ConsoleContaining("Could not parse payload"); len(got) != 1 || got[0].Type != "error" {
		t.Errorf("console: want one error 'Could not parse payload', got %v (all: %v)", got, b.Console())
	}
	if got := b.ConsoleContaining("late page error"); len(got) != 1 || !got[0].IsException() {
		t.Errorf("console: want the uncaught 'late page error' as an exception, got %v (all: %v)", got, b.Console())
	}

	path := b.Screenshot("framed page")
	if st, err := os.Stat(path); err != nil || st.Size() == 0 {
		t.Errorf("screenshot %q: %v", path, err)
	}
}
