package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func buildInfo(mainVersion string, settings ...string) *debug.BuildInfo {
	bi := &debug.BuildInfo{GoVersion: "go1.99.0", Main: debug.Module{Path: "github.com/o2o-dispatch/dispatchd", Version: mainVersion}}
	for i := 0; i+1 < len(settings); i += 2 {
		bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
	}
	return bi
}

func TestResolve(t *testing.T) {
	const rev = "0123456789abcdef0123456789abcdef01234567"
	for _, tc := range []struct {
		name            string
		version, commit string
		bi              *debug.BuildInfo
		want            Info
	}{
		{
			name: "the linker's stamp wins over the toolchain's record",
			// As `make` stamps a tree with local changes.
			version: "v0.2.0-3-g0123456-dirty", commit: "0123456",
			bi:   buildInfo("(devel)", "vcs.revision", rev, "vcs.modified", "true"),
			want: Info{Version: "v0.2.0-3-g0123456-dirty", Commit: "0123456", Modified: true, GoVersion: "go1.99.0"},
		},
		{
			name: "plain go build in a checkout: the revision names the build",
			bi:   buildInfo("(devel)", "vcs.revision", rev, "vcs.modified", "false"),
			want: Info{Version: "devel-0123456789ab", Commit: rev, GoVersion: "go1.99.0"},
		},
		{
			name: "plain go build of a tree with local changes",
			bi:   buildInfo("(devel)", "vcs.revision", rev, "vcs.modified", "true"),
			want: Info{Version: "devel-0123456789ab-dirty", Commit: rev, Modified: true, GoVersion: "go1.99.0"},
		},
		{
			name: "go install module@version",
			bi:   buildInfo("v0.3.1"),
			want: Info{Version: "v0.3.1", GoVersion: "go1.99.0"},
		},
		{
			name: "nothing known",
			bi:   buildInfo("(devel)"),
			want: Info{Version: Devel, GoVersion: "go1.99.0"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := resolve(tc.version, tc.commit, tc.bi); got != tc.want {
				t.Errorf("resolve = %+v, want %+v", got, tc.want)
			}
		})
	}
	// A binary without build information (never the case for go build, but the API allows it).
	if got := resolve("", "", nil); got.Version != Devel || got.Commit != "" || got.GoVersion == "" {
		t.Errorf("resolve without build info = %+v, want version %q, no commit, the runtime's Go version", got, Devel)
	}
}

func TestString(t *testing.T) {
	for _, tc := range []struct {
		info Info
		want string
	}{
		{Info{Version: "v1.0.0", Commit: "abc", GoVersion: "go1.99.0"}, "v1.0.0 (commit abc, go1.99.0)"},
		{Info{Version: "v1.0.0-dirty", Commit: "abc", Modified: true, GoVersion: "go1.99.0"}, "v1.0.0-dirty (commit abc, go1.99.0)"},
		{Info{Version: "v1.0.0", Commit: "abc", Modified: true, GoVersion: "go1.99.0"}, "v1.0.0 (commit abc, modified, go1.99.0)"},
		{Info{Version: Devel, GoVersion: "go1.99.0"}, "devel (commit unknown, go1.99.0)"},
	} {
		if got := tc.info.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.info, got, tc.want)
		}
	}
}

func TestLineNamesTheProgram(t *testing.T) {
	old := Version
	t.Cleanup(func() { Version = old })
	Version = "v9.9.9-test"
	if got := Line("dispatchd"); !strings.HasPrefix(got, "dispatchd v9.9.9-test (commit ") {
		t.Errorf("Line = %q, want it to start with the program and the stamped version", got)
	}
}
