package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// settle re-plans every instance with --every, writes a solution only where it delivers more, and ends with the
// totals line; bad --before values are usage errors.
func TestSettle(t *testing.T) {
	root := t.TempDir()
	inst := writeInstance(t, 4)
	if err := os.Rename(inst, filepath.Join(root, filepath.Base(inst))); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	args := []string{"settle", "--mdrp-root", root, "--every", "--before", "30,2000", "--iterations", "50",
		"--out", t.TempDir()}
	if err := run(testEnv, args, &stdout, &stderr); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	// header, one line per re-plan start, totals
	if len(lines) != 4 || !strings.HasPrefix(lines[3], "lost: policy ") {
		t.Fatalf("settle output:\n%s", stdout.String())
	}
	online := append(args[:len(args):len(args)], "--online", "5")
	stdout.Reset()
	if err := run(testEnv, online, &stdout, &stderr); err != nil {
		t.Fatalf("%v: %v", online, err)
	}
	for _, bad := range []string{"ten", "-5"} {
		err := run(testEnv, []string{"settle", "--mdrp-root", root, "--before", bad}, &stdout, &stderr)
		if !errors.Is(err, errUsage) {
			t.Errorf("--before %s: %v, want a usage error", bad, err)
		}
	}
}
