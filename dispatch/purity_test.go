package dispatch

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestEngineStaysPure guards the engine's contract: its non-test code never reads the wall clock, a random source
// or the disk, and never imports the adapters that import it (HTTP, metrics, the simulator).
func TestEngineStaysPure(t *testing.T) {
	forbiddenImports := map[string]bool{
		"math/rand": true, "math/rand/v2": true, "crypto/rand": true, "os": true, "io/ioutil": true,
		"net": true, "net/http": true, "syscall": true,
		"github.com/o2o-dispatch/dispatchd/sim":     true,
		"github.com/o2o-dispatch/dispatchd/metrics": true,
	}
	forbiddenCalls := map[string]bool{"time.Now": true, "time.Since": true, "time.Until": true, "time.Sleep": true,
		"time.After": true, "time.Tick": true, "time.NewTimer": true, "time.NewTicker": true,
		"time.LoadLocation": true}
	// The engine, its internal packages and the fulfilment network (which the daemon and the simulator drive like
	// the engine); the adapters beside them (daemon, httpapi, journal) do I/O by design.
	dirs := []string{".", "fulfil"}
	_ = filepath.WalkDir("internal", func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && filepath.Base(path) != "testdata" {
			dirs = append(dirs, path)
		}
		return nil
	})
	checked := 0
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			checked++
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if forbiddenImports[path] {
					t.Errorf("%s imports %s", file, path)
				}
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok {
					if x, ok := sel.X.(*ast.Ident); ok && forbiddenCalls[x.Name+"."+sel.Sel.Name] {
						t.Errorf("%s uses %s.%s", file, x.Name, sel.Sel.Name)
					}
				}
				return true
			})
		}
	}
	if checked < 5 {
		t.Fatalf("only %d files checked", checked)
	}
}
