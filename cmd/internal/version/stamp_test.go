package version

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestStampedBuildsPrintTheirVersion builds the three programs the way the Makefile does, with the version and commit
// set by -ldflags -X, and runs each with --version.
func TestStampedBuildsPrintTheirVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three programs; skipped in -short mode")
	}
	// go test puts its own toolchain's bin first on the PATH of the tests it runs.
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command on PATH: %v", err)
	}
	const pkg = "github.com/o2o-dispatch/dispatchd/cmd/internal/version"
	const stampVersion, stampCommit = "v0.0.0-test-stamp", "feedc0de"
	out := t.TempDir()
	build := exec.Command(goBin, "build", "-o", out+string(filepath.Separator),
		"-ldflags", "-X "+pkg+".Version="+stampVersion+" -X "+pkg+".Commit="+stampCommit,
		"./cmd/dispatchd", "./cmd/dispatch-sim", "./cmd/dispatchd-load")
	build.Dir = filepath.Join("..", "..", "..") // the module's root
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	for _, program := range []string{"dispatchd", "dispatch-sim", "dispatchd-load"} {
		b, err := exec.Command(filepath.Join(out, program), "--version").CombinedOutput()
		if err != nil {
			t.Errorf("%s --version: %v\n%s", program, err, b)
			continue
		}
		want := program + " " + stampVersion + " (commit " + stampCommit + ", go"
		if got := strings.TrimSpace(string(b)); !strings.HasPrefix(got, want) || strings.Count(got, "\n") != 0 {
			t.Errorf("%s --version printed %q, want one line starting %q", program, got, want)
		}
	}
}
