package mockserver

import (
	"sync"
	"time"
)

// EntryKind names what a journal entry records.
type EntryKind string

// The kinds of journal entry.
const (
	KindTokenRequest    EntryKind = "token_request"
	KindConnectionOpen  EntryKind = "connection_open"
	KindClientFrame     EntryKind = "client_frame"
	KindServerFrame     EntryKind = "server_frame"
	KindConnectionClose EntryKind = "connection_close"
	KindEventDropped    EntryKind = "event_dropped"
)

// Entry is one thing that happened on the mock, in order. Only the fields of its Kind are set, so
// entries compare well with go-cmp (ignore Seq and Time with cmpopts.IgnoreFields).
type Entry struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	Kind EntryKind `json:"kind"`
	// Connection is the connection id ("c1", "c2", ...) for connection, frame and close entries.
	Connection string `json:"connection,omitempty"`
	// SubscriptionID is the subscription a connection asked for, or an event was emitted to.
	SubscriptionID string `json:"subscriptionId,omitempty"`

	Token *TokenEntry `json:"token,omitempty"`
	Open  *OpenEntry  `json:"open,omitempty"`
	Frame *FrameEntry `json:"frame,omitempty"`
	Close *CloseEntry `json:"close,omitempty"`
	// Event is the inner event name of an event_dropped entry.
	Event string `json:"event,omitempty"`
	// Note explains, in words a person acts on, anything the client did that Zoom would not like:
	// "not a heartbeat: the frame is not JSON", "token sent in an Authorization header, which Zoom ignores".
	Note string `json:"note,omitempty"`
}

// TokenEntry is a token request with credentials masked: the client secret never appears, and the
// token issued is named by its reference ("t1", "t2", ...), which connection entries also use.
type TokenEntry struct {
	ClientID  string `json:"clientId,omitempty"`
	GrantType string `json:"grantType,omitempty"`
	AccountID string `json:"accountId,omitempty"`
	Status    int    `json:"status"`
	Error     string `json:"error,omitempty"`
	TokenRef  string `json:"tokenRef,omitempty"`
}

// OpenEntry is a WebSocket connection attempt and its build_connection outcome.
type OpenEntry struct {
	RemoteAddr string `json:"remoteAddr"`
	TokenRef   string `json:"tokenRef,omitempty"`
	Success    bool   `json:"success"`
	// Content is the build_connection content sent: "connected", "token is empty", ...
	Content string `json:"content"`
}

// FrameEntry is one WebSocket data frame.
type FrameEntry struct {
	// Binary is true for binary frames; Payload then holds the raw bytes as a string.
	Binary  bool   `json:"binary,omitempty"`
	Payload string `json:"payload"`
	// Module is the frame's "module" when it is a JSON object that has one.
	Module string `json:"module,omitempty"`
	// Event is the inner event name of a message frame.
	Event string `json:"event,omitempty"`
	// TrackingID is x-zm-trackingid of a message frame.
	TrackingID string `json:"trackingId,omitempty"`
}

// CloseEntry is how a connection ended.
type CloseEntry struct {
	// By is "server" or "client"; "" when the TCP connection just ended.
	By     string `json:"by,omitempty"`
	Code   int    `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Abrupt is true when the connection ended without a close frame.
	Abrupt bool `json:"abrupt,omitempty"`
}

// journal is the ordered, bounded record of everything the mock saw and did. Every append also
// wakes whoever waits on a state change (see Server.Changed).
type journal struct {
	mu       sync.Mutex
	limit    int   // entries
	maxBytes int64 // payload and note bytes
	bytes    int64
	seq      uint64
	dropped  uint64 // entries discarded to stay within the limits
	entries  []Entry
	changed  chan struct{}
	watched  bool // someone holds changed: the next change must close it
}

func newJournal(limit int, maxBytes int64) *journal {
	return &journal{limit: limit, maxBytes: maxBytes, changed: make(chan struct{})}
}

// entrySize is what an entry costs beyond its fixed fields: the texts it holds.
func entrySize(e *Entry) int64 {
	n := int64(len(e.Note) + 64)
	if e.Frame != nil {
		n += int64(len(e.Frame.Payload))
	}
	return n
}

func (j *journal) add(e Entry) {
	j.mu.Lock()
	j.seq++
	e.Seq = j.seq
	e.Time = time.Now().UTC()
	size := entrySize(&e)
	if len(j.entries) >= j.limit || j.bytes+size > j.maxBytes {
		// Drop the oldest tenth (by count, and more until under the byte budget) at once, so
		// appends stay amortised O(1).
		drop := max(1, len(j.entries)/10)
		for drop < len(j.entries) && j.bytes+size-j.prefixBytes(drop) > j.maxBytes*9/10 {
			drop += max(1, len(j.entries)/10)
		}
		drop = min(drop, len(j.entries))
		j.bytes -= j.prefixBytes(drop)
		j.dropped += uint64(drop)
		clear(j.entries[:drop])
		j.entries = append(j.entries[:0], j.entries[drop:]...)
	}
	j.bytes += size
	j.entries = append(j.entries, e)
	j.wakeLocked()
	j.mu.Unlock()
}

// notify wakes waiters without recording anything (state changed outside the journal).
func (j *journal) notify() {
	j.mu.Lock()
	j.wakeLocked()
	j.mu.Unlock()
}

func (j *journal) prefixBytes(n int) int64 {
	var b int64
	for i := range min(n, len(j.entries)) {
		b += entrySize(&j.entries[i])
	}
	return b
}

// wakeLocked closes the channel waiters hold and makes the next one. A channel nobody took is
// kept, so a busy mock nobody watches does not allocate one per entry.
func (j *journal) wakeLocked() {
	if j.watched {
		close(j.changed)
		j.changed = make(chan struct{})
		j.watched = false
	}
}

// snapshot returns the entries (never nil, so the admin API answers [] rather than null) and how
// many older ones were discarded.
func (j *journal) snapshot() ([]Entry, uint64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append(make([]Entry, 0, len(j.entries)), j.entries...), j.dropped
}

func (j *journal) droppedCount() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.dropped
}

func (j *journal) clear() {
	j.mu.Lock()
	j.entries, j.bytes, j.dropped = nil, 0, 0
	j.mu.Unlock()
}

func (j *journal) watch() <-chan struct{} {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.watched = true
	return j.changed
}
