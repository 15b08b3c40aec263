package replayer

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/zoommock/zoommock/cassettes"
)

// Sentinel errors, wrapped with %w by the errors that are one of these cases.
var (
	// ErrNothingToReplay means the cassette has no WebSocket connection that opened: there is no
	// server half to play.
	ErrNothingToReplay = errors.New("nothing to replay")
	// ErrBadOption means an Option has a value that cannot work (a negative speed, say).
	ErrBadOption = errors.New("bad replay option")
	// ErrNotStepping means Step was called on a playback that was not made WithStep.
	ErrNotStepping = errors.New("the playback is not in step mode")
	// ErrNothingToStep means no replayed connection waited for a step before the context ended.
	ErrNothingToStep = errors.New("no replayed connection is waiting for a step")
)

// BuiltinPrefix names a built-in cassette where a file name is expected: "builtin:token-expiry".
const BuiltinPrefix = "builtin:"

// Strictness decides which differences between what the client does and what the recording's
// client did are reported.
type Strictness string

// The strictness levels.
const (
	// StrictOff compares nothing: the playback only serves.
	StrictOff Strictness = "off"
	// StrictFrames compares the client's frames other than heartbeats (exactly, in order), the
	// build_connection outcome of every connection and the number of connections.
	StrictFrames Strictness = "frames"
	// StrictAll also compares the heartbeat cadence within the tolerance (and the heartbeat count
	// at speed 1), which token each connection used, and how the client closed. The default.
	StrictAll Strictness = "all"
)

// ParseStrictness reads a strictness as the --replay-strict flag spells it.
func ParseStrictness(s string) (Strictness, error) {
	switch st := Strictness(s); st {
	case StrictOff, StrictFrames, StrictAll:
		return st, nil
	}
	return "", fmt.Errorf("%w: unknown strictness %q: use off, frames or all", ErrBadOption, s)
}

// DefaultHeartbeatTolerance is how much longer than the recording's longest heartbeat gap the
// client's may be (0.5: half as long again), so that jitter and a slightly slower cadence pass
// but a missed heartbeat does not.
const DefaultHeartbeatTolerance = 0.5

// Option configures a Playback.
type Option func(*settings)

type settings struct {
	name      string
	speed     float64
	step      bool
	strict    Strictness
	tolerance float64
	log       *slog.Logger
}

// WithSpeed scales the recorded timeline: 1 (the default) is real time, N is N times faster, and
// 0 plays every frame as soon as the client can take it. Heartbeats are not scaled: the client
// keeps its own cadence, and the mock enforces its timeout in real time.
func WithSpeed(speed float64) Option { return func(s *settings) { s.speed = speed } }

// WithStep holds every recorded frame (and recorded close) until Step releases it, for a test or
// a person that wants to see the client's reaction to each one. The speed is then ignored.
func WithStep() Option { return func(s *settings) { s.step = true } }

// WithStrictness sets what is compared (default StrictAll).
func WithStrictness(st Strictness) Option { return func(s *settings) { s.strict = st } }

// WithHeartbeatTolerance sets how much longer than the recording's longest gap between heartbeats
// the client's may be, as a fraction (default DefaultHeartbeatTolerance); it is also the
// fraction by which the heartbeat count may differ at speed 1.
func WithHeartbeatTolerance(f float64) Option { return func(s *settings) { s.tolerance = f } }

// WithLogger receives a log line for every difference when its connection ends, and a summary at
// Finish; nil (the default) discards them.
func WithLogger(l *slog.Logger) Option { return func(s *settings) { s.log = l } }

// WithName names the cassette in reports and logs; LoadFile and Open set it to the file name.
func WithName(name string) Option { return func(s *settings) { s.name = name } }

func newSettings(opts []Option) (settings, error) {
	s := settings{name: "cassette", speed: 1, strict: StrictAll, tolerance: DefaultHeartbeatTolerance}
	for _, o := range opts {
		o(&s)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	switch {
	case s.speed < 0 || math.IsNaN(s.speed) || math.IsInf(s.speed, 0):
		return s, fmt.Errorf("%w: speed %v: want 1 (real time), N (N times faster) or 0 (as fast as possible)", ErrBadOption, s.speed)
	case s.tolerance < 0 || math.IsNaN(s.tolerance):
		return s, fmt.Errorf("%w: heartbeat tolerance %v: want a fraction of 0 or more, such as 0.5", ErrBadOption, s.tolerance)
	}
	if _, err := ParseStrictness(string(s.strict)); err != nil {
		return s, err
	}
	return s, nil
}

// Playback is the server half of a cassette, ready to be played by the mock: one script per
// recorded connection, and the record of what the live client did, to compare. It is safe for
// concurrent use. One Playback drives one server at a time; Rewind starts it over.
type Playback struct {
	set      settings
	header   cassettes.Header
	scripts  []*script
	events   int
	duration time.Duration
	warnings []string
	stepCh   chan stepRequest
	now      func() time.Time // time.Now; tests set a fake clock to get exact heartbeat gaps

	mu        sync.Mutex
	gen       int        // bumped by Rewind: sessions of an older generation are ignored
	live      []*Session // in the order the client opened them
	tokens    map[string]string
	labelUsed map[string]bool
	over      int // scripts that ended
	done      chan struct{}
	finished  time.Time // when Finish was called; zero before
	logged    map[string]bool
}

// New makes a Playback of records already in memory (a cassette read with cassettes.ReadAll, or
// records built by a test). The records are checked as cassettes.ValidateRecords checks them,
// and the error names the record and field of every problem.
func New(h cassettes.Header, recs []cassettes.Record, opts ...Option) (*Playback, error) {
	return newPlayback(h, recs, nil, opts)
}

// Load reads a cassette (zstd-compressed or plain JSON lines) and makes a Playback of it. A
// truncated cassette (a recorder killed mid-write) plays the records before the cut, with a
// warning in Warnings; any other reading error is returned, naming the record and field.
func Load(r io.Reader, opts ...Option) (*Playback, error) {
	h, recs, err := cassettes.ReadAll(r)
	return fromRead(h, recs, err, opts)
}

// LoadFile loads the cassette file at path, as Load.
func LoadFile(path string, opts ...Option) (*Playback, error) {
	h, recs, err := readFile(path)
	return fromRead(h, recs, err, append([]Option{WithName(path)}, opts...))
}

// readFile is cassettes.ReadFile without naming the file in errors: the caller does.
func readFile(path string) (cassettes.Header, []cassettes.Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return cassettes.Header{}, nil, err
	}
	defer f.Close()
	return cassettes.ReadAll(f)
}

// Open loads a cassette by the name a user types: "builtin:NAME" for a built-in cassette (see
// cassettes.BuiltinNames), anything else a file path.
func Open(name string, opts ...Option) (*Playback, error) {
	h, recs, err := ReadCassette(name)
	return fromRead(h, recs, err, append([]Option{WithName(name)}, opts...))
}

// ReadCassette reads the cassette a user names, "builtin:NAME" or a file path, as
// cassettes.ReadAll does: after a truncation it returns the complete records and an error wrapping
// cassettes.ErrTruncated; an unknown built-in gives an error wrapping cassettes.ErrUnknownBuiltin.
func ReadCassette(name string) (cassettes.Header, []cassettes.Record, error) {
	builtin, ok := strings.CutPrefix(name, BuiltinPrefix)
	if !ok {
		return readFile(name)
	}
	r, err := cassettes.Builtin(builtin)
	if err != nil {
		return cassettes.Header{}, nil, err
	}
	return cassettes.ReadAll(r)
}

// fromRead makes a Playback of what a read returned: a truncation becomes a warning, any other
// error is returned with the cassette's name.
func fromRead(h cassettes.Header, recs []cassettes.Record, err error, opts []Option) (*Playback, error) {
	set, serr := newSettings(opts)
	if serr != nil {
		return nil, serr
	}
	var warnings []string
	switch {
	case errors.Is(err, cassettes.ErrTruncated):
		warnings = append(warnings, fmt.Sprintf("%v: replaying the %d complete records before the cut", err, len(recs)))
		set.log.Warn("cassette truncated: replaying what it has", "cassette", set.name, "err", err, "records", len(recs))
	case err != nil:
		return nil, fmt.Errorf("failed to load %s: %w", set.name, err)
	}
	return newPlayback(h, recs, warnings, opts)
}

func newPlayback(h cassettes.Header, recs []cassettes.Record, warnings []string, opts []Option) (*Playback, error) {
	set, err := newSettings(opts)
	if err != nil {
		return nil, err
	}
	if err := cassettes.ValidateRecords(recs); err != nil {
		return nil, fmt.Errorf("failed to load %s: %w", set.name, err)
	}
	p := &Playback{set: set, header: h, stepCh: make(chan stepRequest), now: time.Now}
	var more []string
	p.scripts, more = buildScripts(recs)
	p.warnings = append(warnings, more...)
	if len(p.scripts) == 0 {
		return nil, fmt.Errorf("%w: %s has no WebSocket connection that opened (no ws_open record with status 101)", ErrNothingToReplay, set.name)
	}
	for _, sc := range p.scripts {
		for _, a := range sc.actions {
			if a.event != "" {
				p.events++
			}
		}
	}
	if len(recs) > 0 {
		p.duration = recs[len(recs)-1].Offset
	}
	p.Rewind()
	return p, nil
}

// Name is the cassette's name in reports: its file name, "builtin:NAME", or WithName's.
func (p *Playback) Name() string { return p.set.name }

// Header is the cassette's header line.
func (p *Playback) Header() cassettes.Header { return p.header }

// Speed is the speed the playback was made with (see WithSpeed).
func (p *Playback) Speed() float64 { return p.set.speed }

// Warnings lists what the playback could not use: a truncation, failed upgrades. Each is also in
// Status.
func (p *Playback) Warnings() []string { return append([]string(nil), p.warnings...) }

// String describes the playback in a line for a banner: "builtin:meeting-lifecycle: 1 connection,
// 7 events, 2m5s recorded (12.5s at speed 10)".
func (p *Playback) String() string {
	s := fmt.Sprintf("%s: %s, %s, %v recorded", p.set.name, plural(len(p.scripts), "connection"), plural(p.events, "event"), p.duration)
	switch {
	case p.set.step:
		return s + " (one frame per step)"
	case p.set.speed == 0:
		return s + " (as fast as possible)"
	case p.set.speed != 1:
		return s + fmt.Sprintf(" (%v at speed %v)", p.scaled(p.duration).Round(time.Millisecond), p.set.speed)
	}
	return s + " (real time)"
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// scaled is a recorded duration at the playback's speed.
func (p *Playback) scaled(d time.Duration) time.Duration {
	if p.set.speed == 0 {
		return 0
	}
	return time.Duration(float64(d) / p.set.speed)
}

// Rewind forgets every live connection and comparison, so the next connection plays the
// recording's first again. The mock's Reset calls it.
func (p *Playback) Rewind() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gen++
	p.live = nil
	p.tokens = map[string]string{}
	p.labelUsed = map[string]bool{}
	p.over = 0
	p.done = make(chan struct{})
	p.finished = time.Time{}
	p.logged = map[string]bool{}
}

// Done is closed once every recorded connection has been opened by the client and played to its
// end (or ended early). After Rewind, call it again.
func (p *Playback) Done() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// ConnInfo describes a live connection to Connect.
type ConnInfo struct {
	// ID is the mock's connection id ("c3"), for reports.
	ID string
	// Opened is when the connection was upgraded: recorded offsets count from it.
	Opened time.Time
	// Token names the token the client connected with, without revealing it (the mock's "t2"), or
	// "" when it sent none. Two connections with the same token must give the same name.
	Token string
}

// Connect tells the playback that the client opened its next WebSocket connection, and returns
// the Session that plays the recording's connection of the same rank. The mock calls it once for
// every upgraded connection, in order. A connection beyond the recording's gets a Session with
// nothing to play (it is served live, and reported as an extra connection).
func (p *Playback) Connect(info ConnInfo) *Session {
	p.mu.Lock()
	s := &Session{p: p, gen: p.gen, n: len(p.live), info: info}
	if s.n < len(p.scripts) {
		s.script = p.scripts[s.n]
	}
	s.token = p.tokenLabelLocked(s)
	p.live = append(p.live, s)
	extra := s.script == nil && p.finished.IsZero()
	p.mu.Unlock()
	if extra {
		p.set.log.Warn("replay: the client opened more connections than the recording has: this one is served live only",
			"cassette", p.set.name, "conn", info.ID, "recorded", len(p.scripts))
	}
	return s
}

// tokenLabelLocked names the live token of s in the recording's terms: the first time a live
// token is used, it takes the placeholder the recording's connection of the same rank used, if
// that placeholder was not taken yet; otherwise it is a token the recording did not have.
func (p *Playback) tokenLabelLocked(s *Session) string {
	live := s.info.Token
	if live == "" {
		return ""
	}
	if label, ok := p.tokens[live]; ok {
		return label
	}
	label := fmt.Sprintf("a token the recording did not use (%s)", live)
	if s.script != nil && s.script.token != "" && !p.labelUsed[s.script.token] {
		label = s.script.token
		p.labelUsed[label] = true
	}
	p.tokens[live] = label
	return label
}

// scriptOverLocked counts a recorded connection as played to its end.
func (p *Playback) scriptOverLocked(s *Session) {
	if s.gen != p.gen || s.over || s.script == nil {
		return
	}
	s.over = true
	p.over++
	if p.over == len(p.scripts) {
		close(p.done)
	}
}

// Finish ends the playback's observation: what the client has not done by now counts as missing
// (recorded connections it never opened, frames it never sent), later events are ignored, and a
// summary is logged. The mock's Shutdown calls it before closing the connections, so that its
// own closes are not taken for the client's. Finishing twice is harmless.
func (p *Playback) Finish() {
	p.mu.Lock()
	if !p.finished.IsZero() {
		p.mu.Unlock()
		return
	}
	p.finished = p.now()
	diffs := p.differencesLocked()
	fresh := p.unloggedLocked(diffs)
	p.mu.Unlock()
	p.logDifferences(fresh)
	if len(diffs) == 0 {
		p.set.log.Info("replay finished: the client did what the recording's client did", "cassette", p.set.name, "strict", p.set.strict)
		return
	}
	p.set.log.Warn("replay finished: the client differs from the recording", "cassette", p.set.name, "differences", len(diffs))
}

// unloggedLocked returns the differences not logged yet, and marks them logged.
func (p *Playback) unloggedLocked(diffs []Difference) []Difference {
	var out []Difference
	for _, d := range diffs {
		if key := d.String(); !p.logged[key] {
			p.logged[key] = true
			out = append(out, d)
		}
	}
	return out
}

func (p *Playback) logDifferences(diffs []Difference) {
	for _, d := range diffs {
		p.set.log.Warn("replay differs from the recording", "cassette", p.set.name, "conn", d.Connection, "live", d.Live, "what", d.What, "diff", d.Diff)
	}
}
