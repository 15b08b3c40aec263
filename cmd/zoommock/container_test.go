package main

// No Docker engine runs where the tests run, so the Dockerfile and the compose file are checked
// here for what commonly breaks: ports that disagree, a HEALTHCHECK that needs a shell, an
// environment variable that no flag reads, a cgo binary on a static base, a root user.

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

// repoRoot is the module root, seen from this package's folder (go test's working directory).
const repoRoot = "../.."

var composePath = filepath.Join(repoRoot, "examples", "compose", "docker-compose.yml")

// composeService is what the tests need of one service in the compose file.
type composeService struct {
	env      map[string]string // environment:, values unquoted
	envOrder []string          // names in file order
	ports    []string          // ports:, unquoted
	fields   map[string]string // other scalars two levels down, e.g. "build.context"
}

// readCompose reads the services of examples/compose/docker-compose.yml. It is a line-based
// reader for the subset of YAML the file uses (two-space indentation, maps and lists of scalars),
// so the test needs no YAML library.
func readCompose(t *testing.T) map[string]*composeService {
	t.Helper()
	data, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatal(err)
	}
	services := map[string]*composeService{}
	var svc *composeService
	section, inServices := "", false
	for n, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		key, value, isMap := strings.Cut(trimmed, ":")
		if strings.HasPrefix(trimmed, "- ") {
			isMap = false
		}
		where := fmt.Sprintf("%s:%d", composePath, n+1)
		switch {
		case indent == 0:
			inServices = trimmed == "services:"
		case !inServices:
		case indent == 2 && isMap && value == "":
			svc = &composeService{env: map[string]string{}, fields: map[string]string{}}
			services[key] = svc
		case indent == 4 && isMap:
			section = key
			if value = strings.TrimSpace(value); value != "" {
				svc.fields[key] = yamlScalar(t, where, value)
			}
		case indent == 6 && section == "environment":
			name, v, ok := strings.Cut(trimmed, ": ") // NAME: value
			if item, isItem := strings.CutPrefix(trimmed, "- "); isItem {
				name, v, ok = strings.Cut(yamlScalar(t, where, item), "=") // - NAME=value
			} else {
				v = yamlScalar(t, where, strings.TrimSpace(v))
			}
			if !ok {
				t.Fatalf("%s: cannot read the environment entry %q", where, trimmed)
			}
			svc.env[name] = v
			svc.envOrder = append(svc.envOrder, name)
		case indent == 6 && section == "ports":
			item, ok := strings.CutPrefix(trimmed, "- ")
			if !ok {
				t.Fatalf("%s: want a port mapping item, got %q", where, trimmed)
			}
			svc.ports = append(svc.ports, yamlScalar(t, where, item))
		case indent == 6 && isMap:
			svc.fields[section+"."+key] = yamlScalar(t, where, strings.TrimSpace(value))
		}
	}
	if len(services) == 0 {
		t.Fatalf("%s: no services read", composePath)
	}
	return services
}

// yamlScalar unquotes a YAML scalar; compose would interpolate $VAR, which the tests cannot, so
// the file must not use it.
func yamlScalar(t *testing.T, where, s string) string {
	t.Helper()
	switch {
	case strings.HasPrefix(s, `"`):
		v, err := strconv.Unquote(s)
		if err != nil {
			t.Fatalf("%s: bad double-quoted value %s: %v", where, s, err)
		}
		s = v
	case strings.HasPrefix(s, "'"):
		s = strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(s, "'"), "'"), "''", "'")
	}
	if strings.Contains(s, "$") {
		t.Fatalf("%s: %q uses compose interpolation ($): give the value itself, so tests run with the same environment", where, s)
	}
	return s
}

// dockerInstruction is one Dockerfile instruction, continuation lines joined.
type dockerInstruction struct {
	line  int
	cmd   string // upper case: FROM, RUN, ...
	args  string
	stage int // 0 for the first FROM's stage
}

func readDockerfile(t *testing.T) (ins []dockerInstruction, stages int) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	stage, start, buf := -1, 0, ""
	for n, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if buf == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if buf == "" {
			start = n + 1
		}
		if more, ok := strings.CutSuffix(trimmed, `\`); ok {
			buf += more + " "
			continue
		}
		buf += trimmed
		cmd, args, _ := strings.Cut(buf, " ")
		cmd = strings.ToUpper(cmd)
		if cmd == "FROM" {
			stage++
		}
		ins = append(ins, dockerInstruction{line: start, cmd: cmd, args: strings.Join(strings.Fields(args), " "), stage: stage})
		buf = ""
	}
	return ins, stage + 1
}

// serveEnvVars are the environment variables that `zoommock serve` reads, from its own flags.
func serveEnvVars() map[string]bool {
	return envVarsOf(serveCommand())
}

func envVarsOf(cmds ...*cli.Command) map[string]bool {
	out := map[string]bool{}
	for _, c := range cmds {
		for _, f := range c.Flags {
			if ef, ok := f.(interface{ GetEnvVars() []string }); ok {
				for _, e := range ef.GetEnvVars() {
					out[e] = true
				}
			}
		}
	}
	return out
}

var zoommockVar = regexp.MustCompile(`ZOOMMOCK_[A-Z0-9_]+`)

// checkEnvNames fails for every ZOOMMOCK_ name in file that is not in known.
func checkEnvNames(t *testing.T, file string, known map[string]bool, what string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range zoommockVar.FindAllString(string(data), -1) {
		if !known[name] {
			t.Errorf("%s names %s, which no flag of %s reads (a typo, or a flag that was renamed)", file, name, what)
		}
	}
}

// port is the port of a HOST:PORT address.
func port(t *testing.T, what, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s %q: %v", what, addr, err)
	}
	return p
}

// dockerImage describes the final stage of the Dockerfile, read by inspectDockerfile.
type dockerImage struct {
	addr, user, expose, binary string
	healthcheck                []string
	healthTimeout              time.Duration
	entrypoint                 []string
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	ins, stages := readDockerfile(t)
	if stages < 2 {
		t.Fatalf("Dockerfile has %d stage(s): want a build stage and a minimal runtime stage", stages)
	}
	final := stages - 1
	var img dockerImage
	builtAt, cgoOff := "", false
	for _, in := range ins {
		at := fmt.Sprintf("Dockerfile:%d: %s %s", in.line, in.cmd, in.args)
		switch {
		case in.cmd == "FROM" && in.stage == 0:
			checkGoImage(t, at, in.args)
		case in.cmd == "FROM" && in.stage == final:
			base := strings.Fields(in.args)[0]
			if !strings.HasPrefix(base, "gcr.io/distroless/static") && base != "scratch" {
				t.Errorf("%s: the runtime base should be distroless/static or scratch for a static binary", at)
			}
		case in.cmd == "ENV" && strings.Contains(in.args, "CGO_ENABLED=0"):
			cgoOff = true
		case in.cmd == "RUN" && strings.Contains(in.args, "go build"):
			if !cgoOff && !strings.Contains(in.args, "CGO_ENABLED=0") {
				t.Errorf("%s: build with CGO_ENABLED=0, or the binary needs a libc the runtime image lacks", at)
			}
			if m := regexp.MustCompile(`-o (\S+)`).FindStringSubmatch(in.args); m != nil {
				builtAt = m[1]
			}
		case in.stage != final:
		case in.cmd == "COPY" && strings.HasPrefix(in.args, "--from="):
			f := strings.Fields(in.args)
			if f[1] != builtAt {
				t.Errorf("%s: copies %s, but the build stage writes %s", at, f[1], builtAt)
			}
			img.binary = f[2]
		case in.cmd == "ENV":
			if v, ok := strings.CutPrefix(in.args, "ZOOMMOCK_ADDR="); ok {
				img.addr = v
			}
		case in.cmd == "EXPOSE":
			img.expose = strings.TrimSuffix(in.args, "/tcp")
		case in.cmd == "USER":
			img.user = in.args
		case in.cmd == "HEALTHCHECK":
			img.healthcheck, img.healthTimeout = healthcheckExec(t, at, in.args)
		case in.cmd == "ENTRYPOINT":
			if err := json.Unmarshal([]byte(in.args), &img.entrypoint); err != nil {
				t.Errorf("%s: ENTRYPOINT must be exec form (a JSON array): the image has no shell", at)
			}
		}
	}

	if host, p, err := net.SplitHostPort(img.addr); err != nil || host != "0.0.0.0" {
		t.Errorf("the image must set ZOOMMOCK_ADDR=0.0.0.0:PORT so other containers reach the mock, got %q", img.addr)
	} else if img.expose != p {
		t.Errorf("EXPOSE %q but ZOOMMOCK_ADDR listens on port %s", img.expose, p)
	}
	if img.user == "" || slices.Contains([]string{"root", "0", "0:0", "root:root"}, img.user) || strings.HasPrefix(img.user, "0:") {
		t.Errorf("USER %q: the runtime stage must run as a non-root user", img.user)
	}
	if len(img.healthcheck) < 2 || filepath.Base(img.healthcheck[0]) != "zoommock" || img.healthcheck[1] != "healthcheck" {
		t.Errorf("HEALTHCHECK runs %q, want [\".../zoommock\", \"healthcheck\", ...]", img.healthcheck)
	} else {
		if img.healthcheck[0] != img.binary {
			t.Errorf("HEALTHCHECK runs %s, but the binary is copied to %s", img.healthcheck[0], img.binary)
		}
		code, _, stderr := runCLI(t, append([]string{"healthcheck", "--help"}, img.healthcheck[2:]...)...)
		if code != 0 {
			t.Errorf("HEALTHCHECK arguments %q are not valid for zoommock healthcheck: %s", img.healthcheck[2:], stderr)
		}
		if own := healthcheckTimeout(img.healthcheck[2:]); img.healthTimeout != 0 && own >= img.healthTimeout {
			t.Errorf("zoommock healthcheck may take %v, not less than the HEALTHCHECK --timeout %v: Docker would kill it first", own, img.healthTimeout)
		}
	}
	if len(img.entrypoint) == 0 || img.entrypoint[0] != img.binary {
		t.Errorf("ENTRYPOINT %q should run the binary %s", img.entrypoint, img.binary)
	}
	checkEnvNames(t, filepath.Join(repoRoot, "Dockerfile"), serveEnvVars(), "zoommock serve")

	ignore, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatalf("no .dockerignore: the build context would carry .git and node_modules: %v", err)
	}
	for _, want := range []string{".git", "**/node_modules"} {
		if !slices.Contains(strings.Split(string(ignore), "\n"), want) {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
}

// checkGoImage checks that the build stage's Go is at least the go directive of go.mod.
func checkGoImage(t *testing.T, at, from string) {
	t.Helper()
	m := regexp.MustCompile(`golang:(\d+)\.(\d+)`).FindStringSubmatch(from)
	if m == nil {
		t.Errorf("%s: the build stage should use a golang:X.Y image", at)
		return
	}
	mod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`(?m)^go (\d+)\.(\d+)`).FindStringSubmatch(string(mod))
	num := func(s string) int { n, _ := strconv.Atoi(s); return n }
	if num(m[1])*1000+num(m[2]) < num(want[1])*1000+num(want[2]) {
		t.Errorf("%s: go.mod needs Go %s.%s", at, want[1], want[2])
	}
}

// healthcheckExec returns the exec-form command of a HEALTHCHECK and its --timeout option.
func healthcheckExec(t *testing.T, at, args string) ([]string, time.Duration) {
	t.Helper()
	var timeout time.Duration
	f := strings.Fields(args)
	for len(f) > 0 && strings.HasPrefix(f[0], "--") {
		if v, ok := strings.CutPrefix(f[0], "--timeout="); ok {
			timeout, _ = time.ParseDuration(v)
		}
		f = f[1:]
	}
	if len(f) == 0 || f[0] != "CMD" {
		t.Errorf("%s: want HEALTHCHECK [OPTIONS] CMD [...]", at)
		return nil, 0
	}
	var cmd []string
	if err := json.Unmarshal([]byte(strings.Join(f[1:], " ")), &cmd); err != nil {
		t.Errorf("%s: the HEALTHCHECK command must be exec form (a JSON array): the image has no shell", at)
	}
	return cmd, timeout
}

// healthcheckTimeout is the --timeout that zoommock healthcheck runs with, given its arguments.
func healthcheckTimeout(args []string) time.Duration {
	if i := slices.Index(args, "--timeout"); i >= 0 && i+1 < len(args) {
		d, _ := time.ParseDuration(args[i+1])
		return d
	}
	for _, f := range healthcheckCommand().Flags {
		if df, ok := f.(*cli.DurationFlag); ok && df.Name == "timeout" {
			return df.Value
		}
	}
	return 0
}

func TestComposeFile(t *testing.T) {
	t.Parallel()
	services := readCompose(t)
	mock := services["zoommock"]
	if mock == nil {
		t.Fatalf("%s has no zoommock service", composePath)
	}
	if ctx := filepath.Join(filepath.Dir(composePath), mock.fields["build.context"]); !fileExists(filepath.Join(ctx, "Dockerfile")) {
		t.Errorf("the zoommock service builds %s, which has no Dockerfile", ctx)
	}
	ins, _ := readDockerfile(t)
	var expose string
	for _, in := range ins {
		if in.cmd == "EXPOSE" {
			expose = strings.TrimSuffix(in.args, "/tcp")
		}
	}
	if addr, ok := mock.env["ZOOMMOCK_ADDR"]; ok && port(t, "compose ZOOMMOCK_ADDR", addr) != expose {
		t.Errorf("compose sets ZOOMMOCK_ADDR=%s but the image EXPOSEs %s", addr, expose)
	}
	mapped := false
	for _, p := range mock.ports {
		parts := strings.Split(strings.TrimSuffix(p, "/tcp"), ":")
		mapped = mapped || parts[len(parts)-1] == expose
	}
	if !mapped {
		t.Errorf("compose ports %q map no host port to the container port %s the mock listens on", mock.ports, expose)
	}
	if mock.env["ZOOMMOCK_ADMIN_TOKEN"] == "" {
		t.Errorf("compose must set ZOOMMOCK_ADMIN_TOKEN: tests reach the admin API from outside the container")
	}
	checkEnvNames(t, composePath, serveEnvVars(), "zoommock serve")
	checkEnvNames(t, filepath.Join(filepath.Dir(composePath), "README.md"),
		envVarsOf(serveCommand(), emitCommand(), healthcheckCommand()), "zoommock")

	// The consumer must be configured for the very app the mock serves.
	consumer := services["consumer"]
	if consumer == nil {
		t.Fatalf("%s has no consumer service", composePath)
	}
	for consumerVar, mockVar := range map[string]string{
		"ZOOM_CLIENT_ID": "ZOOMMOCK_CLIENT_ID", "ZOOM_CLIENT_SECRET": "ZOOMMOCK_CLIENT_SECRET",
		"ZOOM_ACCOUNT_ID": "ZOOMMOCK_ACCOUNT_ID", "ZOOM_SECRET_TOKEN": "ZOOMMOCK_SECRET_TOKEN",
	} {
		if consumer.env[consumerVar] != mock.env[mockVar] {
			t.Errorf("consumer %s=%q but the mock has %s=%q", consumerVar, consumer.env[consumerVar], mockVar, mock.env[mockVar])
		}
	}
	if want := "subscriptionId=" + mock.env["ZOOMMOCK_SUBSCRIPTION_ID"]; !strings.HasSuffix(consumer.env["ZOOM_WS_URL"], want) {
		t.Errorf("consumer ZOOM_WS_URL=%q does not end in %s", consumer.env["ZOOM_WS_URL"], want)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
