package load

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// --version needs neither --spawn nor --target.
func TestVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"--version"}, &stdout, &stderr, noEnv); err != nil {
		t.Fatal(err)
	}
	if got := stdout.String(); !strings.HasPrefix(got, "dispatchd-load ") || !strings.Contains(got, "(commit ") {
		t.Errorf("--version printed %q, want the program's name, version and commit", got)
	}
}
