package cassettes

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// builtins are the ready cassettes shipped inside the binary, as plain JSON
// lines so that a change to one reads as a diff in review. They are written
// by TestBuiltinsAreGenerated (go test ./cassettes -run Builtins -update)
// from the sample events in testdata/events, never edited by hand.
//
//go:embed builtin/*.jsonl
var builtins embed.FS

// ErrUnknownBuiltin means Builtin was asked for a name that no built-in
// cassette has; the message lists the names there are.
var ErrUnknownBuiltin = errors.New("no such built-in cassette")

// BuiltinNames lists the built-in cassettes, sorted: "meeting-lifecycle"
// (a meeting from start to recording, heartbeats every 30 s),
// "token-expiry" (the token expires mid-session, the server closes with
// 1008 invalid_token and the client reconnects with a fresh token) and
// "server-drop" (the server drops the TCP connection and the client
// reconnects). Each lasts about two minutes of recorded time: replay them
// with a speed such as 10.
func BuiltinNames() []string {
	entries, _ := fs.ReadDir(builtins, "builtin") // the directory is embedded: it exists
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), path.Ext(e.Name())))
	}
	slices.Sort(names)
	return names
}

// Builtin returns the built-in cassette name (see BuiltinNames) for ReadAll,
// Cat, Validate or any other reader of cassettes. An unknown name gives an
// error wrapping ErrUnknownBuiltin that lists the names there are.
func Builtin(name string) (io.Reader, error) {
	data, err := builtins.ReadFile("builtin/" + name + ".jsonl")
	if err != nil || strings.ContainsAny(name, "/\\") {
		return nil, fmt.Errorf("%w %q: the built-in cassettes are %s", ErrUnknownBuiltin, name, strings.Join(BuiltinNames(), ", "))
	}
	return bytes.NewReader(data), nil
}
