package replayer

import "time"

// SetClock replaces the clock that times the client's heartbeats and closes, so a test gets
// exact gaps in its diffs.
func SetClock(p *Playback, now func() time.Time) { p.now = now }
