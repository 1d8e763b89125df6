package main

import (
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exampleConfig is the example configuration the docs point operators to.
var exampleConfig = filepath.Join("..", "..", "docs", "dispatchd.example.json")

// TestExampleConfig loads docs/dispatchd.example.json through the real config loader: it must hold every setting
// a config file may hold, each at the flag's default and described by a "_name" comment, and nothing else.
func TestExampleConfig(t *testing.T) {
	noEnv := func(string) string { return "" }
	fromFile := NewMain(io.Discard)
	if err := fromFile.ParseFlags([]string{"--config", exampleConfig}, noEnv); err != nil {
		t.Fatalf("the example config does not load: %v", err)
	}
	defaults := NewMain(io.Discard)
	if err := defaults.ParseFlags(nil, noEnv); err != nil {
		t.Fatal(err)
	}
	for _, d := range settingsDiff(fromFile, defaults) {
		t.Errorf("the example's setting differs from the default: %s", d)
	}

	b, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	settings := map[string]bool{}
	fromFile.flags.VisitAll(func(f *flag.Flag) {
		if commandLineOnly[f.Name] {
			return
		}
		key := strings.ReplaceAll(f.Name, "-", "_")
		settings[key] = true
		if _, ok := raw[key]; !ok {
			t.Errorf("the example has no %q: add it at its default (%s) with a %q comment", key, f.DefValue, "_"+key)
		}
		if doc, _ := raw["_"+key].(string); strings.TrimSpace(doc) == "" {
			t.Errorf("the example does not describe %q: add a %q string", key, "_"+key)
		}
	})
	for k := range raw {
		if name, comment := strings.CutPrefix(k, "_"); comment && name != "" && !settings[name] {
			t.Errorf("the example describes %q, which is no setting of a config file", name)
		}
		// The loader also takes dashed names; the example spells them one way.
		if strings.Contains(k, "-") {
			t.Errorf("the example's key %q: spell settings with underscores", k)
		}
	}
}

// --dispatch-workers 0 is "one per CPU but one", so that one config file serves machines of any size.
func TestDispatchWorkersZeroIsAutomatic(t *testing.T) {
	noEnv := func(string) string { return "" }
	if err := NewMain(io.Discard).ParseFlags([]string{"--dispatch-workers", "0"}, noEnv); err != nil {
		t.Errorf("--dispatch-workers 0: %v", err)
	}
	for _, bad := range []string{"-1", "257"} {
		err := NewMain(io.Discard).ParseFlags([]string{"--dispatch-workers", bad}, noEnv)
		if err == nil || !strings.Contains(err.Error(), "--dispatch-workers") {
			t.Errorf("--dispatch-workers %s: %v, want an error naming the flag", bad, err)
		}
	}
}

// --map-kept-share takes a share of the junctions, 0 for none; anything else is refused naming the flag.
func TestMapKeptShareFlag(t *testing.T) {
	noEnv := func(string) string { return "" }
	for _, ok := range []string{"0", "0.05", "1"} {
		if err := NewMain(io.Discard).ParseFlags([]string{"--data-dir", t.TempDir(), "--map-kept-share", ok}, noEnv); err != nil {
			t.Errorf("--map-kept-share %s: %v", ok, err)
		}
	}
	for _, bad := range []string{"-0.1", "1.5", "NaN"} {
		err := NewMain(io.Discard).ParseFlags([]string{"--data-dir", t.TempDir(), "--map-kept-share", bad}, noEnv)
		if err == nil || !strings.Contains(err.Error(), "--map-kept-share") {
			t.Errorf("--map-kept-share %s: %v, want an error naming the flag", bad, err)
		}
	}
}
