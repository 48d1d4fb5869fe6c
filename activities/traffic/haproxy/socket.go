package haproxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// command sends one runtime API command over the admin socket and returns
// the whole answer. HAProxy's non-interactive mode answers one command and
// closes the connection, so the answer ends at EOF.
func (r *Router) command(ctx context.Context, cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", r.socket)
	if err != nil {
		return "", fmt.Errorf("haproxy: admin socket %s: %w (is haproxy running with `stats socket %s level admin`?)", r.socket, err, r.socket)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := io.WriteString(conn, cmd+"\n"); err != nil {
		return "", fmt.Errorf("haproxy: %q on %s: %w", cmd, r.socket, err)
	}
	data, err := io.ReadAll(io.LimitReader(conn, 8<<20))
	if err != nil {
		return "", fmt.Errorf("haproxy: %q on %s: read answer: %w", cmd, r.socket, err)
	}
	out := string(data)
	if strings.Contains(out, "Permission denied") {
		return "", invalid("haproxy: %q: permission denied: the socket %s needs `level admin`", cmd, r.socket)
	}
	return out, nil
}

// server is one line of `show servers state <backend>`.
type server struct {
	name   string
	weight int // srv_uweight: the weight set at runtime (or from config)
}

// servers lists the backend's servers with their current weights, in the
// order HAProxy reports them (configuration order).
func (r *Router) servers(ctx context.Context) ([]server, error) {
	out, err := r.command(ctx, "show servers state "+r.backend)
	if err != nil {
		return nil, err
	}
	return parseServersState(r.backend, out)
}

// parseServersState reads the answer of `show servers state <backend>`: a
// version line, a "# " header naming the fields, then one line per server.
// Fields are found by header name, so a later format that adds columns
// still parses.
func parseServersState(backend, out string) ([]server, error) {
	if strings.Contains(out, "Can't find backend") {
		return nil, invalid("haproxy: backend %q not found in HAProxy's configuration (option %s)", backend, OptBackend)
	}
	var nameAt, weightAt = -1, -1
	var list []server
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if h, ok := strings.CutPrefix(line, "# "); ok {
			for i, f := range strings.Fields(h) {
				switch f {
				case "srv_name":
					nameAt = i
				case "srv_uweight":
					weightAt = i
				}
			}
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 || nameAt < 0 || weightAt < 0 {
			continue // version line, blank line
		}
		if len(f) <= max(nameAt, weightAt) {
			return nil, fmt.Errorf("haproxy: unexpected `show servers state` line %q", line)
		}
		w, err := strconv.Atoi(f[weightAt])
		if err != nil {
			return nil, fmt.Errorf("haproxy: server %s: weight %q: %w", f[nameAt], f[weightAt], err)
		}
		list = append(list, server{name: f[nameAt], weight: w})
	}
	if nameAt < 0 || weightAt < 0 {
		return nil, fmt.Errorf("haproxy: unexpected answer to `show servers state %s`: %q", backend, firstLine(out))
	}
	return list, nil
}

// inFlight sums the current sessions and queued requests of one server,
// from `show stat <backend> 4 -1` (type 4: servers only).
func (r *Router) inFlight(ctx context.Context, srv string) (int, error) {
	out, err := r.command(ctx, "show stat "+r.backend+" 4 -1")
	if err != nil {
		return 0, err
	}
	return parseInFlight(out, srv)
}

// parseInFlight reads the `show stat` CSV and returns scur+qcur for srv.
func parseInFlight(out, srv string) (int, error) {
	var cols map[string]int
	for _, line := range strings.Split(out, "\n") {
		if h, ok := strings.CutPrefix(line, "# "); ok {
			cols = map[string]int{}
			for i, f := range strings.Split(h, ",") {
				cols[f] = i
			}
			continue
		}
		f := strings.Split(line, ",")
		if cols == nil || len(f) <= max(cols["svname"], cols["scur"], cols["qcur"]) || f[cols["svname"]] != srv {
			continue
		}
		n := 0
		for _, c := range []string{"scur", "qcur"} {
			v, err := strconv.Atoi(f[cols[c]])
			if err != nil {
				return 0, fmt.Errorf("haproxy: server %s: %s %q: %w", srv, c, f[cols[c]], err)
			}
			n += v
		}
		return n, nil
	}
	return 0, fmt.Errorf("haproxy: server %s not in `show stat` answer: %q", srv, firstLine(out))
}

// checkEmpty turns a non-empty answer to a command that answers nothing on
// success (set weight) into an error carrying HAProxy's message.
func checkEmpty(cmd, out string) error {
	if msg := strings.TrimSpace(out); msg != "" {
		return fmt.Errorf("haproxy: %q: %s", cmd, msg)
	}
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// pollEvery is how often Drain re-reads the session count.
const pollEvery = 100 * time.Millisecond
