package main

import (
	"os"
	"strings"
	"testing"
)

// TestHelperProcess is not a test. Started by helperProcess with ZOOMMOCK_TEST_HELPER set, it is
// the zoommock binary (main itself, signals included), so tests signal and kill a real process
// without building one.
func TestHelperProcess(t *testing.T) {
	args := os.Getenv("ZOOMMOCK_TEST_HELPER")
	if args == "" {
		t.Skip("run by helperProcess only")
	}
	os.Args = append([]string{"zoommock"}, strings.Split(args, "\n")...)
	main()
}

// helperProcess starts `zoommock args...` as a child process, with the parent's environment minus
// every ZOOMMOCK_ and ZOOM_ variable.
func helperProcess(t *testing.T, args ...string) *process {
	t.Helper()
	return start(t, helperEnv(args), os.Args[0], "-test.run=^TestHelperProcess$")
}

// helperEnv is the environment of a helper process running `zoommock args...`: the parent's,
// minus every ZOOMMOCK_ and ZOOM_ variable, which would configure it.
func helperEnv(args []string) []string {
	env := []string{"ZOOMMOCK_TEST_HELPER=" + strings.Join(args, "\n")}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ZOOMMOCK_") && !strings.HasPrefix(kv, "ZOOM_") {
			env = append(env, kv)
		}
	}
	return env
}
