package webui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/runbookhq/runbook/internal/testenv"
)

// Frame names the document a query runs in: Top is the page itself, In and
// Under an iframe's document. The iframe is looked up again on every query,
// so a frame the page re-renders is still found.
type Frame struct {
	desc string
	// find is a JavaScript expression that yields the iframe element, or
	// null while there is none.
	find string
}

// Top is the page's own document.
var Top = Frame{}

// In is the document of the first iframe in the page matching the CSS
// selector sel.
func In(sel string) Frame {
	return Frame{desc: "iframe " + sel, find: "document.querySelector(" + jsString(sel) + ")"}
}

// Under is the document of the iframe in the section of the first heading
// (h1 to h6) whose text is heading: the first iframe after it in document
// order and before the next heading. The Temporal UI renders each User
// Metadata section as a heading and a markdown iframe (or a "No details
// available" paragraph), with no attribute telling the sections apart.
func Under(heading string) Frame {
	return Frame{desc: "iframe under heading " + jsString(heading), find: fmt.Sprintf(underJS, jsString(heading))}
}

const underJS = `(() => {
  const hs = [...document.querySelectorAll("h1,h2,h3,h4,h5,h6")];
  const i = hs.findIndex(e => e.textContent.trim() === %s);
  if (i < 0) return null;
  const after = (a, b) => (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING) !== 0;
  return [...document.querySelectorAll("iframe")].find(f => after(hs[i], f) && !(hs[i + 1] && after(hs[i + 1], f))) || null;
})()`

func (f Frame) String() string {
	if f.find == "" {
		return "page"
	}
	return f.desc
}

// errNoFrame is returned while the iframe is not (yet) in the page.
var errNoFrame = errors.New("no such iframe")

// Open navigates the tab to url and waits for the page's load event.
func (b *Browser) Open(url string) error {
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		return fmt.Errorf("open %s: %w", url, err)
	}
	return nil
}

// Eval evaluates the JavaScript expression in the frame's document and
// decodes its JSON value into out (nil ignores it). In an iframe it runs in
// an isolated world: the frame's DOM and layout, none of its scripts'
// variables.
func (b *Browser) Eval(f Frame, expression string, out any) error {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	return chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		p := runtime.EvaluateParams{Expression: expression, ReturnByValue: ptr(true)}
		if f.find != "" {
			id, err := frameContext(ctx, t, f)
			if err != nil {
				return err
			}
			p.ContextID = id
		}
		r, err := cdp.Call(ctx, t, runtime.Evaluate, p)
		if err != nil {
			return err
		}
		if r.ExceptionDetails != nil {
			return &chromedp.ExceptionError{ExceptionDetails: r.ExceptionDetails}
		}
		if out == nil || len(r.Result.Value) == 0 {
			return nil
		}
		return json.Unmarshal(r.Result.Value, out)
	}))
}

// frameContext returns an execution context in the document of the frame's
// iframe.
func frameContext(ctx context.Context, t *chromedp.Target, f Frame) (runtime.ExecutionContextID, error) {
	el, err := cdp.Call(ctx, t, runtime.Evaluate, runtime.EvaluateParams{Expression: f.find})
	if err != nil {
		return 0, err
	}
	if el.ExceptionDetails != nil {
		return 0, &chromedp.ExceptionError{ExceptionDetails: el.ExceptionDetails}
	}
	if el.Result.ObjectID == "" {
		return 0, fmt.Errorf("%w: %s", errNoFrame, f)
	}
	defer func() {
		_, _ = cdp.Call(ctx, t, runtime.ReleaseObject, runtime.ReleaseObjectParams{ObjectID: el.Result.ObjectID})
	}()
	node, err := cdp.Call(ctx, t, dom.DescribeNode, dom.DescribeNodeParams{ObjectID: el.Result.ObjectID})
	if err != nil {
		return 0, err
	}
	if node.Node.FrameID == "" {
		return 0, fmt.Errorf("%s is a %s, not an iframe with a document", f, node.Node.NodeName)
	}
	w, err := cdp.Call(ctx, t, page.CreateIsolatedWorld, page.CreateIsolatedWorldParams{FrameID: node.Node.FrameID, WorldName: "webui"})
	if err != nil {
		return 0, fmt.Errorf("%s: %w", f, err)
	}
	return w.ExecutionContextID, nil
}

// Text returns the visible text (innerText) of the first element matching
// the CSS selector sel in the frame's document.
func (b *Browser) Text(f Frame, sel string) (string, error) {
	var s *string
	if err := b.Eval(f, "(() => { const e = document.querySelector("+jsString(sel)+"); return e ? e.innerText : null })()", &s); err != nil {
		return "", err
	}
	if s == nil {
		return "", fmt.Errorf("%s: no element matches %s", f, sel)
	}
	return *s, nil
}

// WaitText polls until an element matching sel in the frame's document has
// visible text containing text ("" waits for the element only), and fails
// the test after timeout, quoting what the element showed last and saving a
// screenshot.
func (b *Browser) WaitText(f Frame, sel, text string, timeout time.Duration) string {
	b.t.Helper()
	var last string
	var lastErr error
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	err := testenv.Poll(ctx, func(context.Context) (bool, error) {
		last, lastErr = b.Text(f, sel)
		return lastErr == nil && contains(last, text), nil
	})
	if err != nil {
		b.Screenshot("timeout")
		b.t.Fatalf("%s: %s did not show %q within %s (last error %v); it showed:\n%s", f, sel, text, timeout, lastErr, clip(last, 2000))
	}
	return last
}

// Placement is where some text lies in its frame: whether it was found, and
// whether its box lies inside the frame's viewport and every scrolling box
// around it, that is, whether a person sees it without scrolling.
type Placement struct {
	Found, InView bool
	// Top and Bottom are the text's box in the frame's viewport; Height the
	// viewport's height (all CSS pixels).
	Top, Bottom, Height float64
	// ClippedBy names the box that hides the text, when one does.
	ClippedBy string
}

// Place finds the first occurrence of text in the frame's document (inside
// one text node) and tells where it lies.
func (b *Browser) Place(f Frame, text string) (Placement, error) {
	var p Placement
	err := b.Eval(f, fmt.Sprintf(placeJS, jsString(text)), &p)
	return p, err
}

// WaitInView polls until text lies in the frame's viewport (see Place) and
// returns where; after timeout it fails the test with the last placement
// and saves a screenshot. It polls because a frame's height and content can
// settle after the page has loaded.
func (b *Browser) WaitInView(f Frame, text string, timeout time.Duration) Placement {
	b.t.Helper()
	var last Placement
	var lastErr error
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	err := testenv.Poll(ctx, func(context.Context) (bool, error) {
		last, lastErr = b.Place(f, text)
		return lastErr == nil && last.InView, nil
	})
	if err != nil {
		b.Screenshot("not-in-view")
		b.t.Fatalf("%s: %q is not visible without scrolling within %s: %+v (last error %v)", f, text, timeout, last, lastErr)
	}
	return last
}

// placeJS finds the text node holding %s, measures the text itself with a
// Range, and checks it against each ancestor that clips (innermost first, so
// the report names the nearest cause) and then the viewport.
const placeJS = `(() => {
  const want = %s;
  const walk = document.createTreeWalker(document.body || document.documentElement, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walk.nextNode()) && !node.data.includes(want)) {}
  if (!node) return {Found: false};
  const r = document.createRange();
  const at = node.data.indexOf(want);
  r.setStart(node, at); r.setEnd(node, at + want.length);
  const box = r.getBoundingClientRect();
  const vh = window.innerHeight, vw = window.innerWidth;
  const out = {Found: true, Top: box.top, Bottom: box.bottom, Height: vh, InView: true, ClippedBy: ""};
  const outside = (c) => box.top < c.top - 0.5 || box.bottom > c.bottom + 0.5 || box.left < c.left - 0.5 || box.right > c.right + 0.5;
  if (box.width === 0 && box.height === 0) { out.InView = false; out.ClippedBy = "not rendered"; return out; }
  for (let e = node.parentElement; e && e !== document.documentElement; e = e.parentElement) {
    const s = getComputedStyle(e);
    if (s.visibility === "hidden" || s.display === "none") { out.InView = false; out.ClippedBy = e.tagName.toLowerCase() + " (hidden)"; return out; }
    if (s.overflowX === "visible" && s.overflowY === "visible") continue;
    if (outside(e.getBoundingClientRect())) {
      out.InView = false;
      out.ClippedBy = e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className && typeof e.className === "string" ? "." + e.className.trim().split(/\s+/).join(".") : "");
      return out;
    }
  }
  if (outside({top: 0, left: 0, bottom: vh, right: vw})) { out.InView = false; out.ClippedBy = "viewport"; }
  return out;
})()`

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// jsString quotes s as a JavaScript string literal (JSON is one).
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func ptr[T any](v T) *T { return &v }
