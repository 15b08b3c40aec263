package main

import (
	"strings"
	"testing"

	"github.com/zoommock/zoommock/mockserver"
)

func TestLoadgen(t *testing.T) {
	t.Parallel()
	fanOut := inProcessMock(t, mockserver.Config{ConnectionPolicy: mockserver.FanOut}, nil)
	code, stdout, stderr := runCLI(t, "loadgen", "--target", fanOut, "--connections", "2", "--rate", "50",
		"--duration", "200ms", "--heartbeat-interval", "20ms")
	for _, want := range []string{"connections held:    2 of 2", "events received:     20 of 20 delivered", "latency emit→receive: p50"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if code != 0 || !strings.Contains(stderr, "opening 2 connections") {
		t.Errorf("exit %d, stderr %q; want 0", code, stderr)
	}

	rejectNew := inProcessMock(t, mockserver.Config{ConnectionPolicy: mockserver.RejectNew}, nil)
	code, stdout, stderr = runCLI(t, "loadgen", "--target", rejectNew, "--connections", "2", "--rate", "0", "--duration", "1ms")
	if code != 1 || !strings.Contains(stdout, "problem: 1 of 2 connections failed to open") || !strings.Contains(stderr, "1 problem(s)") {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 naming the refused connection", code, stdout, stderr)
	}

	for args, want := range map[string]string{
		"--connections 0":      "must be positive",
		"--rate -5":            "rate -5",
		"--target localhost:1": "want the server's base URL",
		"--bogus":              "flag provided but not defined: -bogus",
		"extra":                "loadgen takes no arguments",
	} {
		code, stdout, stderr := runCLI(t, append([]string{"loadgen"}, strings.Fields(args)...)...)
		if code != 2 || !strings.Contains(stderr, want) || strings.Contains(stdout, "OPTIONS:") {
			t.Errorf("loadgen %s: exit %d, stderr %q; want exit 2 saying %q", args, code, stderr, want)
		}
	}
	if code, _, stderr := runCLI(t, "loadgen", "--target", "http://"+deadAddr(t), "--duration", "1ms"); code != 1 || !strings.Contains(stderr, "failed to get an access token") {
		t.Errorf("no mock: exit %d, stderr %q", code, stderr)
	}
}
