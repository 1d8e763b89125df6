// Package version says which build of dispatchd's programs is running: the version and commit stamped at build
// time, else what the Go toolchain recorded of the source tree, else "devel".
//
// The Makefile stamps both with the linker:
//
//	go build -ldflags "-X github.com/o2o-dispatch/dispatchd/cmd/internal/version.Version=v1.2.0 \
//	    -X github.com/o2o-dispatch/dispatchd/cmd/internal/version.Commit=0123abc" ./cmd/dispatchd
//
// A plain `go build` inside a git checkout records the commit (vcs.revision) and whether the tree had local changes
// (vcs.modified); `go install module@version` records the module's version. Those are used when nothing was stamped.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Version and Commit are set at link time with -ldflags -X (see the package doc); empty when they were not.
var (
	Version string
	Commit  string
)

// Devel is the version of a build that carries neither a stamp nor a module version.
const Devel = "devel"

// Info is what is known of the running build.
type Info struct {
	// Version is the stamped version (the Makefile's `git describe --always --dirty`), else the module's version,
	// else the commit when the toolchain recorded one, else Devel.
	Version string
	// Commit is the stamped commit, else the toolchain's vcs.revision, else empty.
	Commit string
	// Modified is true when the toolchain recorded uncommitted changes in the tree it built (vcs.modified).
	Modified bool
	// GoVersion is the toolchain that built the program.
	GoVersion string
}

// Get returns the running program's build information.
func Get() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return resolve(Version, Commit, bi)
}

// resolve applies the order of precedence: the linker's stamp, then the build information bi (nil when the binary
// has none).
func resolve(version, commit string, bi *debug.BuildInfo) Info {
	info := Info{Version: version, Commit: commit, GoVersion: runtime.Version()}
	if bi != nil {
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
		var revision string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
		if info.Commit == "" {
			info.Commit = revision
		}
		// "(devel)" is what the toolchain writes for the main module built from a checkout.
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
	}
	if info.Version == "" && info.Commit != "" {
		info.Version = Devel + "-" + short(info.Commit)
		if info.Modified {
			info.Version += "-dirty"
		}
	}
	if info.Version == "" {
		info.Version = Devel
	}
	return info
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

// String is the one line that --version prints after the program's name: the version, then in parentheses the
// commit, "modified" when the tree built had uncommitted changes that the version does not already say ("-dirty"),
// and the toolchain.
func (i Info) String() string {
	commit := i.Commit
	if commit == "" {
		commit = "unknown"
	}
	if i.Modified && !strings.HasSuffix(i.Version, "-dirty") {
		commit += ", modified"
	}
	return fmt.Sprintf("%s (commit %s, %s)", i.Version, commit, i.GoVersion)
}

// Line is what a program prints for --version: its name and the running build, such as
// "dispatchd v0.3.0-12-g0123abc (commit 0123abc, go1.26.8)".
func Line(program string) string { return program + " " + Get().String() }
