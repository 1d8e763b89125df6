package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// FuzzConfigFile reads a made-up --config file. A setting in the file means what the same value given as the flag
// means: the file is accepted exactly when the flags it spells out are, and then gives the same settings. A JSON
// number is the flag's value written in plain decimal, a string or true/false as it is; null, an array or an
// object is refused (but under a key starting with "_", a comment, anything goes), as is a name that is not a
// flag's (in its dashed or underscored spelling), "config" or "version" (the flags a config file cannot set).
//
// Seeds: the settings of the test suite's config file, and near-valid files in testdata.
func FuzzConfigFile(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(t.TempDir(), "dispatchd.json")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		noEnv := func(string) string { return "" }
		fromFile := NewMain(io.Discard)
		fileErr := fromFile.ParseFlags([]string{"--config", file}, noEnv)

		args, ok := flagsOf(data)
		if !ok {
			if fileErr == nil {
				t.Fatalf("config %s: accepted, but it is not an object of flag settings", data)
			}
			return
		}
		fromFlags := NewMain(io.Discard)
		flagErr := fromFlags.ParseFlags(args, noEnv)
		if (fileErr == nil) != (flagErr == nil) {
			t.Fatalf("config %s: %v; as flags %q: %v", data, fileErr, args, flagErr)
		}
		if fileErr == nil && !sameSettings(fromFile, fromFlags) {
			t.Fatalf("config %s and flags %q differ:\n%+v\n%+v", data, args, fromFile, fromFlags)
		}
	})
}

// flagsOf spells a config file out as flags, or says it cannot be: not a JSON object, two keys for one setting,
// a value that is not a string, number or bool, a flag of the command line only. A key starting with "_" is a
// comment and left out. (A name that is no flag's is left in: the flags refuse
// it too.)
func flagsOf(data []byte) ([]string, bool) {
	var file map[string]any
	if json.Unmarshal(data, &file) != nil {
		return nil, false
	}
	var args []string
	seen := map[string]bool{}
	for k, v := range file {
		if strings.HasPrefix(k, "_") {
			continue // a comment
		}
		name := strings.ReplaceAll(k, "_", "-")
		if commandLineOnly[name] || seen[name] {
			return nil, false
		}
		seen[name] = true
		var val string
		switch v := v.(type) {
		case string:
			val = v
		case bool:
			val = strconv.FormatBool(v)
		case float64:
			val = strconv.FormatFloat(v, 'f', -1, 64)
		default:
			return nil, false
		}
		args = append(args, "--"+name+"="+val)
	}
	slices.Sort(args)
	return args, true
}

// sameSettings compares the settings of two Mains (every exported field but the config file's name).
func sameSettings(a, b *Main) bool {
	return len(settingsDiff(a, b)) == 0 && a.adminToken == b.adminToken
}

// settingsDiff lists the exported fields but the config file's name in which a and b differ, with both values.
func settingsDiff(a, b *Main) []string {
	var diff []string
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for i := range va.NumField() {
		f := va.Type().Field(i)
		if f.IsExported() && f.Name != "ConfigFile" && !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			diff = append(diff, fmt.Sprintf("%s: %v, not %v", f.Name, va.Field(i).Interface(), vb.Field(i).Interface()))
		}
	}
	return diff
}
