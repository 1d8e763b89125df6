package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// repoRoot is the repository's root, from this package's directory.
const repoRoot = "../.."

// TestDocsCiteOnlyWhatTheRepositoryHas: relative links in the project's Markdown lead to files that exist, and
// nothing cites the measuring rules by a file the repository does not hold (they are in docs/benchmarks.md).
func TestDocsCiteOnlyWhatTheRepositoryHas(t *testing.T) {
	docs, _ := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	docs = append(docs, filepath.Join(repoRoot, "README.md"), filepath.Join(repoRoot, "cmd", "README.md"),
		filepath.Join(repoRoot, "sim", "scenarios", "README.md"))
	link := regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)
	for _, doc := range docs {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(text), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(doc), target)); err != nil {
				t.Errorf("%s links to %s, which is not in the repository", doc, target)
			}
		}
	}
	out, err := exec.Command("git", "-C", repoRoot, "grep", "-l", "BENCHMARKS.md", "--", "*.go", "*.md",
		":!cmd/dispatchd/docs_test.go").Output()
	if err != nil && len(out) > 0 {
		t.Fatal(err)
	}
	if len(out) > 0 {
		t.Errorf("files cite BENCHMARKS.md, which the repository does not hold (cite docs/benchmarks.md):\n%s", out)
	}
}

// TestREADMESaysWhatMakeBenchRuns: every target `make bench` runs is named in the README's line for it.
func TestREADMESaysWhatMakeBenchRuns(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for line := range strings.SplitSeq(string(mk), "\n") {
		if rest, ok := strings.CutPrefix(line, "bench:"); ok {
			targets = strings.Fields(rest)
		}
	}
	if len(targets) == 0 {
		t.Fatal("the Makefile has no bench target")
	}
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var row string
	for line := range strings.SplitSeq(string(readme), "\n") {
		if strings.HasPrefix(line, "| `make bench` |") {
			row = line
		}
	}
	for _, target := range targets {
		if !strings.Contains(row, "`"+target+"`") {
			t.Errorf("the README's make bench line does not name %s: %q", target, row)
		}
	}
}

// TestSimulatorOutputIsIgnored: out/, where the README's simulator commands write, is ignored by git.
func TestSimulatorOutputIsIgnored(t *testing.T) {
	f, err := os.Open(filepath.Join(repoRoot, ".gitignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		lines = append(lines, strings.TrimSpace(sc.Text()))
	}
	if !slices.Contains(lines, "/out/") && !slices.Contains(lines, "out/") {
		t.Errorf(".gitignore does not ignore out/: %q", lines)
	}
}
