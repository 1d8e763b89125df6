package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	for _, arg := range []string{"--version", "version"} {
		var stdout, stderr bytes.Buffer
		if err := run(testEnv, []string{arg}, &stdout, &stderr); err != nil {
			t.Fatalf("%s: %v", arg, err)
		}
		if got := stdout.String(); !strings.HasPrefix(got, "dispatch-sim ") || !strings.Contains(got, "(commit ") {
			t.Errorf("%s printed %q, want the program's name, version and commit", arg, got)
		}
	}
}
