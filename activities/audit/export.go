package audit

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Export formats.
const (
	FormatJSONL = "jsonl"
	FormatCSV   = "csv"
)

// csvHeader names the columns of a CSV export, in order. Columns added later
// come last, so a reader by position keeps working: identity (how the actor
// was verified), and key_id and sig, with which an auditor checks each
// entry's signature against the worker's public keys without runbook.
var csvHeader = []string{"seq", "time", "actor", "channel", "action", "release", "service", "environment",
	"version", "step", "outcome", "detail", "digest", "commit", "break_glass", "id", "prev", "hash",
	"identity", "key_id", "sig"}

// Export writes the entries of the log file at path that match filter; see
// ExportFrom.
func Export(w io.Writer, path string, filter Filter, format string) (int, error) {
	return ExportFrom(context.Background(), w, File(path), filter, format)
}

// ExportFrom writes the entries of the log r that match filter, as JSON lines
// or CSV with a header, for an auditor. The whole chain is verified first:
// evidence from a log that does not verify is refused, naming the broken
// entry, instead of being handed over as if it were sound. An ActionPruned
// entry shows in JSON lines with what it removed, in CSV through its detail.
func ExportFrom(ctx context.Context, w io.Writer, r Reader, filter Filter, format string) (int, error) {
	if format != FormatJSONL && format != FormatCSV {
		return 0, fmt.Errorf("unknown export format %q: use %s or %s", format, FormatJSONL, FormatCSV)
	}
	entries, err := r.Read(ctx, filter)
	if err != nil {
		return 0, fmt.Errorf("the audit log does not verify, nothing exported: %w", err)
	}
	if format == FormatJSONL {
		return len(entries), writeJSONL(w, entries)
	}
	return len(entries), writeCSV(w, entries)
}

func writeJSONL(w io.Writer, entries []Entry) error {
	enc := json.NewEncoder(w)
	for _, e := range entries {
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	return nil
}

func writeCSV(w io.Writer, entries []Entry) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for _, e := range entries {
		row := []string{strconv.FormatInt(e.Seq, 10), e.Time.UTC().Format(time.RFC3339Nano), e.Actor, e.Channel,
			e.Action, e.Release, e.Service, e.Environment, e.Version, e.Step, e.Outcome, e.Detail,
			e.Digest, e.Commit, strconv.FormatBool(e.BreakGlass), e.ID, e.Prev, e.Hash,
			e.Identity, e.KeyID, e.Sig}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
