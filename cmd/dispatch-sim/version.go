package main

import (
	"runtime/debug"
	"strings"
)

// buildVersion is the version reports are stamped with: the module's version and the commit the binary was built
// from (with "+modified" for a build from a changed tree), as the Go toolchain records them; "devel" when it
// records neither (go run, tests).
func buildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	return versionOf(info)
}

// versionOf reads the version out of build information.
func versionOf(info *debug.BuildInfo) string {
	version := info.Main.Version
	if version == "" || version == "(devel)" {
		version = "devel"
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return version
	}
	commit := rev[:min(len(rev), 12)]
	if modified == "true" {
		commit += "+modified"
	}
	if strings.Contains(version, commit) {
		return version
	}
	return version + " (commit " + commit + ")"
}
