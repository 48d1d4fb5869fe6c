package flags

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/runbookhq/runbook/activities/flags/flagapi"
	"github.com/runbookhq/runbook/internal/flagd"
	"github.com/runbookhq/runbook/internal/netguard"
)

// FlagdProvider is the file provider for a file flagd serves (its file
// sync): it writes the definitions file (option path) and, when option url
// names flagd's OFREP endpoint, reads each flag back through flagd until
// flagd serves what the file says, so a stage counts only once the
// applications asking flagd see it.
type FlagdProvider struct {
	FileProvider
	// OFREP is flagd's base URL (nil: the file alone is read).
	OFREP *url.URL
	// Wait bounds how long a read waits for flagd to serve the file.
	Wait time.Duration
	// Poll is the pause between two probes of flagd.
	Poll   time.Duration
	client *http.Client
}

// probes is how many targeting keys a read-back evaluates.
const probes = 20

// NewFlagdProvider is the flagd provider's Factory: options path and url.
func NewFlagdProvider(options map[string]string) (Provider, error) {
	if err := flagapi.CheckOptions("flagd", options, "path", "url"); err != nil {
		return nil, err
	}
	if options["path"] == "" {
		return nil, errors.New("the flagd flag provider needs options.path: the flag definitions file flagd's file sync serves")
	}
	path, err := filePath(options)
	if err != nil {
		return nil, err
	}
	p := &FlagdProvider{FileProvider: FileProvider{Path: path}, Wait: 30 * time.Second, Poll: 200 * time.Millisecond,
		client: netguard.Client(nil, 10*time.Second)}
	if raw := options["url"]; raw != "" {
		u, err := flagapi.BaseURL("flagd", "url", raw)
		if err != nil {
			return nil, err
		}
		p.OFREP = u
	}
	return p, nil
}

// Read returns the flag's definition from the file, once flagd serves it.
func (p *FlagdProvider) Read(ctx context.Context, flag string) (Definition, error) {
	if p.OFREP == nil {
		return p.FileProvider.Read(ctx, flag)
	}
	f, err := flagd.Read(p.Path)
	if err != nil {
		return Definition{}, fmt.Errorf("read %s: %w", p.Path, err)
	}
	d, err := definitionOf(f, flag)
	if err != nil {
		return Definition{}, err
	}
	deadline := time.Now().Add(p.Wait)
	for {
		diff, err := p.differs(ctx, f, flag)
		if err != nil || diff == "" {
			return d, err
		}
		if time.Now().After(deadline) {
			return Definition{}, fmt.Errorf("flagd at %s does not serve %s as %s says after %s: %s (is flagd's file sync pointed at that file?)",
				p.OFREP, flag, p.Path, p.Wait, diff)
		}
		select {
		case <-ctx.Done():
			return Definition{}, ctx.Err()
		case <-time.After(p.Poll):
		}
	}
}

// differs evaluates flag through flagd for probe subjects (and each
// segment of a segment rule) and describes the first answer that is not
// what the file gives; "" when all agree.
func (p *FlagdProvider) differs(ctx context.Context, f flagd.File, flag string) (string, error) {
	segments := []string{""}
	if d, ok := f.Flags[flag]; ok && len(d.Targeting) > 0 {
		if r, err := flagd.ParseRule(d.Targeting); err == nil {
			segments = append(segments, r.Segments...)
		}
	}
	for _, seg := range segments {
		for i := range probes {
			key := fmt.Sprintf("runbook-probe-%d", i)
			want, reason := f.Evaluate(flag, key, seg)
			got, err := p.evaluate(ctx, flag, key, seg)
			if err != nil {
				return "", err
			}
			if reason == "DISABLED" && (got == "DISABLED" || got == "FLAG_NOT_FOUND") || got == want ||
				reason == "FLAG_NOT_FOUND" && got == "FLAG_NOT_FOUND" {
				continue
			}
			return fmt.Sprintf("for targeting key %s, segment %q flagd answers %s, the file %s", key, seg, got, want), nil
		}
	}
	return "", nil
}

// evaluate asks flagd's OFREP endpoint for one subject and returns the
// variant, or the error code (FLAG_NOT_FOUND, FLAG_DISABLED reported as
// DISABLED) of an OFREP error answer.
func (p *FlagdProvider) evaluate(ctx context.Context, flag, key, segment string) (string, error) {
	c := map[string]any{"targetingKey": key}
	if segment != "" {
		c["segment"] = segment
	}
	body, _ := json.Marshal(map[string]any{"context": c})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.OFREP.String()+"/ofrep/v1/evaluate/flags/"+url.PathEscape(flag), bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("flagd: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		Variant   string `json:"variant"`
		Reason    string `json:"reason"`
		ErrorCode string `json:"errorCode"`
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err := json.Unmarshal(data, &out); err != nil {
		return "", fmt.Errorf("flagd: evaluate %s: %d: not an OFREP answer: %.200s", flag, resp.StatusCode, data)
	}
	switch {
	case resp.StatusCode == http.StatusOK && out.Reason == "DISABLED":
		return "DISABLED", nil
	case resp.StatusCode == http.StatusOK:
		return out.Variant, nil
	case out.ErrorCode == "FLAG_NOT_FOUND":
		return "FLAG_NOT_FOUND", nil
	case out.ErrorCode == "FLAG_DISABLED":
		return "DISABLED", nil
	}
	return "", fmt.Errorf("flagd: evaluate %s: %d: %s", flag, resp.StatusCode, out.ErrorCode)
}
