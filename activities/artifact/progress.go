package artifact

import (
	"context"
	"io"
	"time"

	"go.temporal.io/sdk/activity"
)

// heartbeatEvery limits heartbeats: the SDK batches them anyway, but recording
// one per buffer would still cost a conversion per MiB.
var heartbeatEvery = time.Second

// progress counts bytes through a reader, reports them at most every
// heartbeatEvery, and stops reading once ctx is done. Heartbeats are what let
// Temporal deliver a cancel to a long read and notice a dead worker.
type progress struct {
	ctx   context.Context
	r     io.Reader
	n     int64
	every time.Duration
	last  time.Time
	now   func() time.Time
	beat  func(int64)
}

// newProgress wraps r; beat may be nil.
func newProgress(ctx context.Context, r io.Reader, beat func(int64)) *progress {
	p := &progress{ctx: ctx, r: r, every: heartbeatEvery, now: time.Now, beat: beat}
	p.last = p.now()
	return p
}

// Read reads from the wrapped reader after checking for cancellation.
func (p *progress) Read(b []byte) (int, error) {
	if err := p.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.beat != nil {
		if t := p.now(); t.Sub(p.last) >= p.every {
			p.last = t
			p.beat(p.n)
		}
	}
	return n, err
}

// activityHeartbeat returns a beat function recording bytes read as heartbeat
// details, or nil outside an activity (the CLI computing a digest).
func activityHeartbeat(ctx context.Context) func(int64) {
	if !activity.IsActivity(ctx) {
		return nil
	}
	return func(n int64) { activity.RecordHeartbeat(ctx, n) }
}
