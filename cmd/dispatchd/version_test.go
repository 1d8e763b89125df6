package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/o2o-dispatch/dispatchd/cmd/internal/version"
)

// --version answers without reading the environment or a config file, so that it works beside a broken one; and
// "version" is no setting of the environment or the config file.
func TestVersionFlag(t *testing.T) {
	env := map[string]string{"DISPATCHD_CONFIG": filepath.Join(t.TempDir(), "missing.json"), "DISPATCHD_DISPATCH_INTERVAL": "1ms"}
	m := NewMain(io.Discard)
	if err := m.ParseFlags([]string{"--version"}, func(k string) string { return env[k] }); err != nil {
		t.Fatalf("--version beside a missing config file: %v", err)
	}
	if !m.ShowVersion {
		t.Fatal("--version did not set ShowVersion")
	}

	file := filepath.Join(t.TempDir(), "dispatchd.json")
	if err := os.WriteFile(file, []byte(`{"version": true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	err := NewMain(io.Discard).ParseFlags([]string{"--config", file}, func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), `unknown setting "version"`) {
		t.Fatalf("a config file setting version: %v, want it refused as an unknown setting", err)
	}
	m = NewMain(io.Discard)
	if err := m.ParseFlags(nil, func(k string) string {
		if k == "DISPATCHD_VERSION" {
			return "true"
		}
		return ""
	}); err != nil || m.ShowVersion {
		t.Fatalf("DISPATCHD_VERSION=true: err %v, ShowVersion %v; want it ignored", err, m.ShowVersion)
	}
}

// /metrics says which build serves, as --version does.
func TestBuildInfoMetric(t *testing.T) {
	old := version.Version
	version.Version = "v0.0.0-build-info-test"
	t.Cleanup(func() { version.Version = old })
	c, stop := startMain(t, t.TempDir())
	status, b := c.do("GET", "/metrics", "", nil)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if status != 200 {
		t.Fatalf("GET /metrics: %d", status)
	}
	var line string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "dispatchd_build_info{") {
			line = l
		}
	}
	if !strings.Contains(line, `version="v0.0.0-build-info-test"`) || !strings.HasSuffix(line, "} 1") {
		t.Fatalf("dispatchd_build_info: %q, want the stamped version and the value 1", line)
	}
}
