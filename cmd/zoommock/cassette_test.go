package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoommock/zoommock/cassettes"
)

var sessionJSONL = filepath.Join(repoRoot, "cassettes", "testdata", "session.jsonl")

// cassetteFiles writes, into a temporary directory, a good cassette and every kind of bad one,
// all made from the cassettes package's sample session.
func cassetteFiles(t *testing.T) (dir string, jsonl []byte) {
	t.Helper()
	dir = t.TempDir()
	jsonl, err := os.ReadFile(sessionJSONL)
	if err != nil {
		t.Fatal(err)
	}
	packed := func(lines []byte) []byte {
		var b bytes.Buffer
		if err := cassettes.Pack(&b, bytes.NewReader(lines)); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	good := packed(jsonl)
	// A recorder killed mid-session: records streamed, the stream never finished.
	var cut bytes.Buffer
	h, recs, err := cassettes.ReadAll(bytes.NewReader(jsonl))
	if err != nil {
		t.Fatal(err)
	}
	w, err := cassettes.NewWriter(&cut, h)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs[:5] {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	corrupt := bytes.Clone(good)
	for i := len(corrupt) / 2; i < len(corrupt)/2+16; i++ {
		corrupt[i] ^= 0x5a
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(jsonl)
	zw.Close()
	lines := strings.Split(string(jsonl), "\n")
	lines[3] = strings.Replace(lines[3], `"direction":"server"`, `"direction":"up"`, 1)
	lines[6] = strings.Replace(lines[6], `"opcode":"text"`, `"opcode":"weird"`, 1)
	for name, data := range map[string][]byte{
		"good.cassette":      good,
		"copy.cassette":      good,
		"changed.cassette":   packed(bytes.ReplaceAll(jsonl, []byte("Weekly platform sync"), []byte("Monthly platform sync"))),
		"session.jsonl":      jsonl,
		"truncated.cassette": cut.Bytes(),
		"corrupt.cassette":   corrupt,
		"empty.cassette":     nil,
		"other.json":         []byte(`{"format":"har","version":"1.2"}` + "\n"),
		"session.jsonl.gz":   gz.Bytes(),
		"bad.jsonl":          []byte(strings.Join(lines, "\n")),
	} {
		writeFile(t, dir, name, string(data))
	}
	return dir, jsonl
}

func TestCassetteCommands(t *testing.T) {
	t.Parallel()
	dir, jsonl := cassetteFiles(t)
	f := func(name string) string { return filepath.Join(dir, name) }
	tests := []struct {
		name           string
		args           []string
		code           int
		stdout, stderr string // parts of each; stdout "" means nothing at all
	}{
		{"cat", []string{"cat", f("good.cassette")}, 0, string(jsonl), ""},
		{"cat plain lines", []string{"cat", f("session.jsonl")}, 0, string(jsonl), ""},
		{"cat truncated", []string{"cat", f("truncated.cassette")}, 1, strings.Join(strings.SplitAfter(string(jsonl), "\n")[:6], ""),
			f("truncated.cassette") + ": cassette truncated after record 5: unexpected EOF\nevery complete record before the cut was read" +
				" (was the recorder killed?); to keep them as a clean cassette:\n  zoommock cassette cat " + f("truncated.cassette") + " > "},
		{"cat empty", []string{"cat", f("empty.cassette")}, 1, "",
			f("empty.cassette") + ": not a zoommock cassette: empty cassette: no header line\na cassette is what 'zoommock record' or 'zoommock cassette pack' writes"},
		{"cat other format", []string{"cat", f("other.json")}, 1, "", f("other.json") + ": not a zoommock cassette: line 1: "},
		{"cat gzip", []string{"cat", f("session.jsonl.gz")}, 1, "", "the file is gzip-compressed; cassettes use zstd"},
		{"cat missing", []string{"cat", f("nope.cassette")}, 1, "", "failed to open the cassette: open " + f("nope.cassette") + ": no such file or directory"},
		{"cat corrupt", []string{"cat", f("corrupt.cassette")}, 1, `{"format":"zoommock-cassette"`, f("corrupt.cassette") + ": cassette corrupt after record "},
		{"inspect", []string{"inspect", f("good.cassette")}, 0, "connections  2\n  c1  /ws status 101", ""},
		{"inspect json", []string{"inspect", "--json", f("good.cassette")}, 0, `"records": 14,`, ""},
		{"inspect truncated", []string{"inspect", f("truncated.cassette")}, 1, "records      5 over 30.412s", "cassette truncated after record 5"},
		{"inspect empty", []string{"inspect", f("empty.cassette")}, 1, "", "empty cassette"},
		{"validate", []string{"validate", f("good.cassette")}, 0, f("good.cassette") + " is a valid cassette\n", ""},
		{"validate bad records", []string{"validate", f("bad.jsonl")}, 1, "",
			f("bad.jsonl") + ": \n  cassette has 2 problems:\n  record 3 (line 4): field \"direction\": want \"client\" or \"server\", got \"up\"\n  record 6 (line 7): field \"opcode\""},
		{"validate truncated", []string{"validate", f("truncated.cassette")}, 1, "", "cassette truncated after record 5"},
		{"validate corrupt", []string{"validate", f("corrupt.cassette")}, 1, "", "cassette corrupt"},
		{"validate other format", []string{"validate", f("other.json")}, 1, "", "not a zoommock cassette"},
		{"pack", []string{"pack", f("session.jsonl"), f("packed.cassette")}, 0, "", ""},
		{"pack over", []string{"pack", f("session.jsonl"), f("good.cassette")}, 1, "", f("good.cassette") + " already exists: choose another OUT, or add --force"},
		{"pack forced", []string{"pack", "--force", f("session.jsonl"), f("copy.cassette")}, 0, "", ""},
		{"pack bad", []string{"pack", f("bad.jsonl"), f("bad.cassette")}, 1, "", f("bad.jsonl") + ": failed to pack: record 3 (line 4): field \"direction\""},
		{"diff same", []string{"diff", f("good.cassette"), f("session.jsonl")}, 0, "hold the same session", ""},
		{"diff changed", []string{"diff", f("good.cassette"), f("changed.cassette")}, 1, `"Weekly platform sync"`, "differ (the diff is above)"},
		{"diff unreadable", []string{"diff", f("good.cassette"), f("empty.cassette")}, 1, "", f("empty.cassette") + ": not a zoommock cassette"},
		{"no command", []string{}, 2, "", "cassette needs a command: cat, inspect, validate, pack, diff"},
		{"unknown command", []string{"show"}, 2, "", `unknown cassette command "show"`},
		{"cat without file", []string{"cat"}, 2, "", "cat needs a cassette FILE (or - for standard input), got []"},
		{"pack one argument", []string{"pack", f("session.jsonl")}, 2, "", "pack needs IN (or - for standard input) and OUT"},
		{"flag after arguments", []string{"pack", f("session.jsonl"), f("good.cassette"), "--force"}, 0, "", ""},
		{"diff one", []string{"diff", "a"}, 2, "", "diff needs two cassettes A and B"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCLI(t, append([]string{"cassette"}, tt.args...)...)
		if code != tt.code || !strings.Contains(stderr, tt.stderr) || (tt.stdout == "") != (stdout == "") || !strings.Contains(stdout, tt.stdout) {
			t.Errorf("%s: exit %d\nstdout: %q\nstderr: %q\nwant exit %d, stdout with %q, stderr with %q", tt.name, code, stdout, stderr, tt.code, tt.stdout, tt.stderr)
		}
	}
	if err := cassettes.Validate(mustOpen(t, f("packed.cassette"))); err != nil {
		t.Errorf("packed cassette: %v", err)
	}
	if _, err := os.Stat(f("bad.cassette")); err == nil {
		t.Errorf("pack wrote a cassette from bad input")
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*")); len(leftovers) > 0 {
		t.Errorf("pack left temporary files behind: %v", leftovers)
	}
	_, stdout, _ := runCLI(t, "cassette", "inspect", "--json", f("good.cassette"))
	var s struct {
		Records     int `json:"records"`
		Connections []struct {
			Close struct{ Code int } `json:"close"`
		} `json:"connections"`
	}
	if err := json.Unmarshal([]byte(stdout), &s); err != nil || s.Records != 14 || len(s.Connections) != 2 || s.Connections[0].Close.Code != 1001 {
		t.Errorf("inspect --json: %+v (%v)\n%s", s, err, stdout)
	}
}

// "-" reads standard input: JSON lines piped into pack, a cassette piped into cat.
func TestCassetteStdin(t *testing.T) {
	t.Parallel()
	dir, jsonl := cassetteFiles(t)
	out := filepath.Join(dir, "from-stdin.cassette")
	for _, step := range []struct {
		args  []string
		stdin string
		want  []byte
	}{
		{[]string{"cassette", "pack", "-", out}, sessionJSONL, nil},
		{[]string{"cassette", "cat", "-"}, out, jsonl},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
		cmd.Env = helperEnv(step.args)
		cmd.Stdin = mustOpen(t, step.stdin)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		got, err := cmd.Output()
		if err != nil || !bytes.Equal(got, step.want) {
			t.Fatalf("%s < %s: %v, %s\nstdout: %q", strings.Join(step.args, " "), step.stdin, err, stderr.String(), got)
		}
	}
}

func mustOpen(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
