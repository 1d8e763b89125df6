package main

import (
	"os"
	"strings"
	"testing"
)

// walkthroughMarker opens each README block that shows a part of docs/walkthrough.sh.
const walkthroughMarker = "<!-- docs/walkthrough.sh, part "

// TestREADMEShowsTheWalkthroughScript: the README's walkthrough blocks, joined by a blank line, are
// docs/walkthrough.sh from its second line on, so that what CI runs (.ci/walkthrough) is what a newcomer reads.
func TestREADMEShowsTheWalkthroughScript(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("../../docs/walkthrough.sh")
	if err != nil {
		t.Fatal(err)
	}
	_, want, _ := strings.Cut(string(script), "\n") // without the #! line
	var shown strings.Builder
	parts := strings.Split(string(readme), walkthroughMarker)
	for i, part := range parts[1:] {
		_, block, ok := strings.Cut(part, "```sh\n")
		block, _, closed := strings.Cut(block, "```\n")
		if !ok || !closed {
			t.Fatalf("a walkthrough marker in README.md is not followed by a ```sh block")
		}
		if i > 0 {
			shown.WriteString("\n")
		}
		shown.WriteString(block)
	}
	if len(parts) < 2 {
		t.Fatal("README.md shows no part of docs/walkthrough.sh")
	}
	if got := shown.String(); got != want {
		gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("README.md's walkthrough differs from docs/walkthrough.sh at its line %d:\nREADME: %s\nscript: %s", i+2, gl[i], wl[i])
			}
		}
		t.Fatalf("README.md's walkthrough has %d lines, docs/walkthrough.sh %d (after its first)", len(gl), len(wl))
	}
}
