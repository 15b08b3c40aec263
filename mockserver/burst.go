package mockserver

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrBadBurst is wrapped by every error about a burst's count or rate.
var ErrBadBurst = errors.New("bad burst")

// Bounds of one burst, so that a typo in a load test cannot tie the mock up for days.
const (
	// MaxBurstCount is the most events one burst sends.
	MaxBurstCount = 1_000_000
	// MaxBurstDuration is the longest a burst may take at the rate it asks for.
	MaxBurstDuration = 10 * time.Minute
)

// BurstResult says what a burst did.
type BurstResult struct {
	// Event is the inner event name.
	Event string `json:"event"`
	// Requested is the count asked for; Emitted how many were emitted before the burst ended.
	Requested int `json:"requested"`
	Emitted   int `json:"emitted"`
	// Delivered is the number of deliveries: each event counts once per connection it reached.
	Delivered int `json:"delivered"`
	// Dropped is how many events no connection could take (Zoom drops them).
	Dropped int `json:"dropped"`
	// Delayed is how many events the delayEvents fault holds for later delivery.
	Delayed int `json:"delayed,omitempty"`
	// Elapsed is how long the burst took; Rate is the events per second it achieved.
	Elapsed Duration `json:"elapsed"`
	Rate    float64  `json:"rate"`
}

// Burst emits the same event count times at rate events per second (0: as fast as the connections
// take them),
// as Emit would one at a time, so a consumer can be load-tested through the real protocol: each
// event gets its own x-zm-trackingid and signature (and event_ts when missing), and faults apply. The pace follows a
// fixed schedule, so a late event does not lower the average rate. Burst returns when every event
// is emitted; when ctx ends or the server shuts down first it returns what was done with an error
// saying how far it got. A count or rate outside MaxBurstCount and MaxBurstDuration is refused
// with ErrBadBurst before anything is sent. At rate 0 the burst waits while a connection it reaches
// has half of Config.SendQueue frames waiting, so a consumer that reads is never dropped for the
// mock's speed; one that stops reading is dropped after Config.WriteTimeout, as always. At a rate,
// a consumer slower than the rate falls behind and is dropped when its queue is full.
func (s *Server) Burst(ctx context.Context, subscriptionID string, event []byte, count int, rate float64) (res BurstResult, err error) {
	res.Requested = count
	switch {
	case count < 1 || count > MaxBurstCount:
		return res, fmt.Errorf("%w: count %d: want 1 to %d events", ErrBadBurst, count, MaxBurstCount)
	case math.IsNaN(rate) || math.IsInf(rate, 0) || rate < 0:
		return res, fmt.Errorf("%w: rate %v: want events per second, or 0 for as fast as possible", ErrBadBurst, rate)
	case rate > 0 && float64(count)/rate > MaxBurstDuration.Seconds():
		return res, fmt.Errorf("%w: %d events at %v per second would take %v, more than the limit of %v: raise the rate or lower the count",
			ErrBadBurst, count, rate, time.Duration(float64(count)/rate*float64(time.Second)).Round(time.Second), MaxBurstDuration)
	}
	start := time.Now()
	defer func() {
		elapsed := time.Since(start)
		res.Elapsed = Duration(elapsed)
		if elapsed > 0 {
			res.Rate = float64(res.Emitted) / elapsed.Seconds()
		}
	}()
	stopped := func(err error) error {
		return fmt.Errorf("burst stopped after %d of %d events: %w", res.Emitted, count, err)
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	checkEvery := max(1, min(64, s.cfg.SendQueue/4)) // at rate 0, how often the queues are looked at
	for i := range count {
		if rate == 0 && i%checkEvery == 0 {
			if err := s.awaitRoom(ctx, subscriptionID); err != nil {
				return res, stopped(err)
			}
		}
		var wait time.Duration
		if rate > 0 {
			wait = time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second))))
		}
		if wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return res, stopped(ctx.Err())
			case <-s.closing:
				return res, stopped(ErrClosed)
			}
		} else if err := ctx.Err(); err != nil {
			return res, stopped(err)
		}
		er, err := s.Emit(subscriptionID, event)
		if err != nil {
			if res.Emitted == 0 {
				return res, err // a bad event or subscription: nothing was sent
			}
			return res, stopped(err)
		}
		res.Event = er.Event
		res.Emitted++
		res.Delivered += er.Delivered
		if er.Dropped {
			res.Dropped++
		}
		if er.Delayed {
			res.Delayed++
		}
	}
	return res, nil
}

// awaitRoom waits until no connection an event to subscriptionID reaches has more than half of
// Config.SendQueue frames waiting.
func (s *Server) awaitRoom(ctx context.Context, subscriptionID string) error {
	for s.backlog(subscriptionID) > s.cfg.SendQueue/2 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closing:
			return ErrClosed
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

// backlog is the most frames waiting in the queue of a connection an event to subscriptionID
// ("" is every subscription) reaches.
func (s *Server) backlog(subscriptionID string) int {
	s.mu.Lock()
	var conns []*conn
	for id, sub := range s.subs {
		if subscriptionID == "" || id == subscriptionID {
			conns = append(conns, sub.conns...)
		}
	}
	s.mu.Unlock()
	most := 0
	for _, c := range conns {
		c.mu.Lock()
		most = max(most, len(c.queue))
		c.mu.Unlock()
	}
	return most
}
