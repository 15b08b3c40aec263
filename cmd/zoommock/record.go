package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/zoommock/zoommock/cassettes"
	"github.com/zoommock/zoommock/recorder"
)

// credentialFlags are the app credentials of direct mode: each also reads ZOOM_<NAME>, the names
// Zoom's own samples use, after ZOOMMOCK_<NAME>.
var credentialFlags = []struct{ name, usage string }{
	{"client-id", "client id of the Server-to-Server OAuth app (direct mode)"},
	{"client-secret", "client secret of the app (direct mode; prefer the environment to a flag, which ps shows)"},
	{"account-id", "account id of the app (direct mode)"},
	{"subscription-id", "event subscription id to connect to (direct mode)"},
}

func recordFlags() []cli.Flag {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "out", EnvVars: envVars("out"), Usage: "cassette `FILE` to write (required)"},
		&cli.BoolFlag{Name: "force", EnvVars: envVars("force"), Usage: "overwrite --out if it exists"},
		&cli.BoolFlag{Name: "direct", EnvVars: envVars("direct"), Usage: "be the client: get a token, connect, heartbeat and record, with no application"},
		&cli.StringFlag{Name: "listen", Value: "127.0.0.1:9877", EnvVars: envVars("listen"),
			Usage: "`HOST:PORT` the application under test connects to instead of Zoom (proxy mode; port 0 picks a free one)"},
		&cli.StringFlag{Name: "oauth-upstream", Value: recorder.DefaultOAuthUpstream, EnvVars: envVars("oauth-upstream"),
			Usage: "base `URL` of the token endpoint to record (/oauth/token is added)"},
		&cli.StringFlag{Name: "ws-upstream", Value: recorder.DefaultWSUpstream, EnvVars: envVars("ws-upstream"),
			Usage: "base `URL` of the event WebSocket to record (/ws and the query are added)"},
		&cli.DurationFlag{Name: "duration", EnvVars: envVars("duration"), Usage: "stop after this `DURATION` (default: at Ctrl-C, or in direct mode when the server closes)"},
		&cli.DurationFlag{Name: "heartbeat-interval", Value: recorder.DefaultHeartbeatInterval, EnvVars: envVars("heartbeat-interval"),
			Usage: "how often direct mode sends a heartbeat"},
		&cli.BoolFlag{Name: "pseudonymize", EnvVars: envVars("pseudonymize"), Usage: "also replace account ids, emails and names in events by consistent pseudonyms"},
	}
	for _, f := range credentialFlags {
		flags = append(flags, &cli.StringFlag{Name: f.name, Usage: f.usage, EnvVars: append(envVars(f.name), zoomEnv(f.name))})
	}
	return append(flags,
		&cli.StringFlag{Name: "log-format", Value: "text", EnvVars: envVars("log-format"), Usage: "log format: text or json"},
		&cli.StringFlag{Name: "log-level", Value: "info", EnvVars: envVars("log-level"), Usage: "log level: debug, info, warn or error"},
	)
}

// zoomEnv is ZOOM_CLIENT_ID for client-id.
func zoomEnv(flag string) string { return "ZOOM_" + strings.TrimPrefix(envVars(flag)[0], "ZOOMMOCK_") }

func recordCommand() *cli.Command {
	return &cli.Command{
		Name:  "record",
		Usage: "capture a real Zoom session into a cassette (proxy mode, or --direct)",
		Description: "Proxy mode (the default): point the application under test at --listen instead of Zoom; the token\n" +
			"endpoint and the event WebSocket are passed to --oauth-upstream and --ws-upstream, and both directions\n" +
			"are recorded into --out. Direct mode (--direct): zoommock is the client, with the credentials given by\n" +
			"flags or ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET, ZOOM_ACCOUNT_ID and ZOOM_SUBSCRIPTION_ID; it does not\n" +
			"reconnect when the server closes.\n" +
			"Secrets (Basic credentials, the client secret, access tokens, the verification token) never reach the\n" +
			"cassette. SIGINT or SIGTERM finish the cassette cleanly and exit 0; a recorder killed harder leaves a\n" +
			"cassette that reads back up to its last record.",
		Flags: recordFlags(),
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usagef("record takes no arguments, got %q (the cassette goes in --out)", c.Args().Slice())
			}
			rc, err := newRecordConfig(c)
			if err != nil {
				return err
			}
			return rc.run(c.Context)
		},
	}
}

// recordConfig is a checked command line of record.
type recordConfig struct {
	out, listen  string
	force        bool
	direct       bool
	duration     time.Duration
	creds        recorder.Credentials
	opts         []recorder.Option
	oauth, ws    string
	stdout       io.Writer
	stderr       io.Writer
	logFormat    string
	logLevel     string
	recorderName string
}

// newRecordConfig checks every flag before anything is created, listened on or dialled.
func newRecordConfig(c *cli.Context) (*recordConfig, error) {
	rc := &recordConfig{
		out: c.String("out"), listen: c.String("listen"), force: c.Bool("force"), direct: c.Bool("direct"),
		duration: c.Duration("duration"), oauth: c.String("oauth-upstream"), ws: c.String("ws-upstream"),
		stdout: c.App.Writer, stderr: c.App.ErrWriter, logFormat: c.String("log-format"), logLevel: c.String("log-level"),
		creds: recorder.Credentials{ClientID: c.String("client-id"), ClientSecret: c.String("client-secret"),
			AccountID: c.String("account-id"), SubscriptionID: c.String("subscription-id")},
	}
	if rc.out == "" {
		return nil, usagef("--out FILE is required: the cassette to write (or ZOOMMOCK_OUT)")
	}
	if rc.duration < 0 {
		return nil, usagef("--duration %v: must be positive (or 0 to record until Ctrl-C)", rc.duration)
	}
	if _, err := newLogger(io.Discard, rc.logFormat, rc.logLevel); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		flag string
		opt  recorder.Option
	}{
		{"oauth-upstream", recorder.WithOAuthUpstream(rc.oauth)},
		{"ws-upstream", recorder.WithWSUpstream(rc.ws)},
		{"heartbeat-interval", recorder.WithHeartbeatInterval(c.Duration("heartbeat-interval"))},
	} {
		if err := recorder.CheckOptions(f.opt); err != nil {
			return nil, usagef("--%s: %s", f.flag, strings.TrimPrefix(err.Error(), recorder.ErrBadOption.Error()+": "))
		}
		rc.opts = append(rc.opts, f.opt)
	}
	redactor := cassettes.NewRedactor()
	if c.Bool("pseudonymize") {
		redactor = cassettes.NewRedactor(cassettes.WithPseudonyms())
	}
	rc.opts = append(rc.opts, recorder.WithRedactor(redactor))
	rc.recorderName = "zoommock " + version + " record"
	if !rc.direct {
		if _, _, err := net.SplitHostPort(rc.listen); err != nil {
			return nil, usagef("--listen %q: want HOST:PORT, such as 127.0.0.1:9877", rc.listen)
		}
		return rc, nil
	}
	rc.recorderName += " --direct"
	var missing []string
	for _, f := range credentialFlags {
		if c.String(f.name) == "" {
			missing = append(missing, fmt.Sprintf("--%s (or %s)", f.name, zoomEnv(f.name)))
		}
	}
	if len(missing) > 0 {
		return nil, usagef("--direct needs the app's credentials: %s", strings.Join(missing, ", "))
	}
	return rc, nil
}

// run records until ctx ends (SIGINT, SIGTERM), --duration passes, the server ends a direct
// session, or the cassette cannot be written; then it finishes the cassette.
func (rc *recordConfig) run(ctx context.Context) error {
	if rc.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, rc.duration)
		defer cancel()
	}
	var ln net.Listener
	if !rc.direct {
		var err error
		if ln, err = net.Listen("tcp", rc.listen); err != nil {
			return fmt.Errorf("failed to listen on --listen %s: %w (is another recorder running? port 0 picks a free one)", rc.listen, err)
		}
		defer ln.Close()
	}
	cw, err := rc.create()
	if err != nil {
		return err
	}
	st := newStatus(rc.stdout, rc.stderr, rc.out)
	logger, _ := newLogger(st.logs(), rc.logFormat, rc.logLevel)
	opts := append(rc.opts, recorder.WithLogger(logger))

	var rec interface{ Stats() recorder.Stats }
	var runErr error
	if rc.direct {
		d, err := recorder.NewDirect(cw, rc.creds, opts...)
		if err != nil {
			cw.Close()
			return err
		}
		fmt.Fprintf(rc.stdout, "zoommock is recording subscription %s from %s into %s (Ctrl-C finishes it)\n",
			rc.creds.SubscriptionID, redacted(rc.ws), rc.out)
		rec = d
		stop := st.start(d.Stats, logger)
		runErr = d.Run(ctx)
		stop()
	} else {
		p, err := recorder.NewProxy(cw, opts...)
		if err != nil {
			cw.Close()
			return err
		}
		rc.printProxyBanner(ln.Addr().String())
		rec = p
		stop := st.start(p.Stats, logger)
		runErr = p.Serve(ctx, ln)
		stop()
	}
	closeErr := cw.Close()
	s := rec.Stats()
	fmt.Fprintf(rc.stdout, "zoommock recorded %s (%s, %s, %s) into %s, %s\n", plural(s.Records, "record"),
		plural(s.Connections, "connection"), plural(s.Events, "event"), plural(s.Heartbeats, "heartbeat"), rc.out, humanBytes(fileSize(rc.out)))
	switch {
	case runErr != nil && closeErr != nil:
		return fmt.Errorf("%w; then %v", runErr, closeErr)
	case runErr != nil:
		return fmt.Errorf("%w (the records before it are in %s)", runErr, rc.out)
	case closeErr != nil:
		return fmt.Errorf("failed to finish %s: %w", rc.out, closeErr)
	}
	return nil
}

// create creates the cassette, failing before any connection when the path is unwritable or
// exists without --force.
func (rc *recordConfig) create() (*cassettes.Writer, error) {
	meta := map[string]string{"mode": "proxy", "oauth_upstream": redacted(rc.oauth), "ws_upstream": redacted(rc.ws)}
	if rc.direct {
		meta["mode"] = "direct"
		meta["subscription_id"] = rc.creds.SubscriptionID
	}
	var opts []cassettes.WriterOption
	if rc.force {
		opts = append(opts, cassettes.WithForce())
	}
	cw, err := cassettes.Create(rc.out, cassettes.Header{Created: time.Now().UTC(), Recorder: rc.recorderName, Meta: meta}, opts...)
	switch {
	case errors.Is(err, cassettes.ErrExists):
		return nil, fmt.Errorf("--out %s already exists: choose another file, or add --force to overwrite it", rc.out)
	case err != nil:
		return nil, fmt.Errorf("cannot write --out %s: %w", rc.out, err)
	}
	return cw, nil
}

func (rc *recordConfig) printProxyBanner(addr string) {
	w := rc.stdout
	fmt.Fprintf(w, "zoommock is recording on %s into %s\n", addr, rc.out)
	fmt.Fprintf(w, "  token URL:       http://%s/oauth/token  (passed to %s)\n", addr, redacted(rc.oauth))
	fmt.Fprintf(w, "  WebSocket URL:   ws://%s/ws?subscriptionId=<id>&access_token=<token>  (passed to %s)\n", addr, redacted(rc.ws))
	fmt.Fprintln(w, "  Point the application under test at these URLs; Ctrl-C finishes the cassette.")
}

// redacted hides a password in a URL given on the command line before it is printed or recorded.
func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Redacted()
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func humanBytes(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// status shows how a recording goes: a line redrawn in place on a terminal, or a log line every
// progressEvery otherwise.
type status struct {
	out, errw io.Writer
	path      string
	terminal  bool
	begin     time.Time

	mu    sync.Mutex
	stats func() recorder.Stats
	line  string // what the terminal shows now
}

// redrawEvery and progressEvery pace the status: a terminal line a few times a second, a log line
// twice a minute.
var (
	redrawEvery   = 250 * time.Millisecond
	progressEvery = 30 * time.Second
)

func newStatus(out, errw io.Writer, path string) *status {
	return &status{out: out, errw: errw, path: path, terminal: isTerminal(out), begin: time.Now()}
}

// isTerminal reports whether w is a terminal (a character device), where a line can be redrawn.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// logs is where the recorder's log lines go: standard error, with the status line cleared first
// and redrawn after on a terminal, so the two never mix.
func (s *status) logs() io.Writer {
	if !s.terminal {
		return s.errw
	}
	return writerFunc(func(p []byte) (int, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.line != "" {
			fmt.Fprint(s.out, "\r\x1b[K")
		}
		n, err := s.errw.Write(p)
		if s.line != "" {
			fmt.Fprint(s.out, s.line)
		}
		return n, err
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// start shows the status of stats (on the terminal, or through logger) until the returned stop is called; stop ends the terminal line.
func (s *status) start(stats func() recorder.Stats, logger *slog.Logger) (stop func()) {
	s.mu.Lock()
	s.stats = stats
	s.mu.Unlock()
	every := progressEvery
	if s.terminal {
		every = redrawEvery
		s.draw()
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if s.terminal {
					s.draw()
				} else {
					st := stats()
					logger.Info("recording", "elapsed", s.elapsed(),
						"connections", st.Connections, "events", st.Events, "heartbeats", st.Heartbeats, "bytes", fileSize(s.path))
				}
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		if s.terminal {
			s.draw()
			s.mu.Lock()
			fmt.Fprintln(s.out)
			s.line = ""
			s.mu.Unlock()
		}
	}
}

// draw redraws the terminal line.
func (s *status) draw() {
	st := s.stats()
	line := fmt.Sprintf("\rrecording %s | %s (%d open) | %s | %s | %s written", s.elapsed(), plural(st.Connections, "connection"), st.Open,
		plural(st.Events, "event"), plural(st.Heartbeats, "heartbeat"), humanBytes(fileSize(s.path)))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.line = line
	fmt.Fprint(s.out, line+"\x1b[K")
}

func (s *status) elapsed() time.Duration { return time.Since(s.begin).Truncate(time.Second) }

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
