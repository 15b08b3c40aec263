package mockserver

import (
	"encoding/json"
	"fmt"
	"time"
)

// Faults are the real-world failures a consumer must survive, switched on at run time through
// SetFaults or PUT /_mock/faults. The zero value is a healthy server.
type Faults struct {
	// StopHeartbeatReplies keeps accepting heartbeats (they still reset the idle timer) but stops
	// answering them, as when Zoom's side of the socket silently stalls.
	StopHeartbeatReplies bool `json:"stopHeartbeatReplies,omitempty"`
	// DelayEvents holds each event this long before delivery; event_ts keeps the emit time, so the
	// event arrives late by that much.
	DelayEvents Duration `json:"delayEvents,omitempty"`
	// BackdateEvents sets a missing event_ts this far in the past, so the event looks hours late
	// without the test having to wait.
	BackdateEvents Duration `json:"backdateEvents,omitempty"`
	// DuplicateEvents delivers every event twice, with the same x-zm-trackingid, as Zoom sometimes does.
	DuplicateEvents bool `json:"duplicateEvents,omitempty"`
	// CloseOnTokenExpiry closes open connections when their token expires (overrides the setting
	// while on).
	CloseOnTokenExpiry bool `json:"closeOnTokenExpiry,omitempty"`
	// RejectTokens makes every token fail at connect with the invalid-token text, as if Zoom had
	// revoked them all; the token endpoint still issues new ones.
	RejectTokens bool `json:"rejectTokens,omitempty"`
}

// Duration is a time.Duration that reads and writes JSON as a Go duration string ("1.5s", "3h").
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "1.5s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON accepts a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"1.5s\" or \"3h\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration string such as \"1.5s\" or \"3h\": %w", err)
	}
	if v < 0 {
		return fmt.Errorf("duration %q must not be negative", s)
	}
	*d = Duration(v)
	return nil
}

// faultsText is f as the JSON the admin API takes, for logs.
func faultsText(f Faults) string {
	b, _ := json.Marshal(f)
	return string(b)
}
