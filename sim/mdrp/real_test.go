package mdrp

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// realInstances lists the instance directories under $MDRP_DIR/public_instances, or skips the test: the data
// is not shipped with the project (its licence forbids it), so only a local copy can be used.
func realInstances(t *testing.T) []string {
	t.Helper()
	root := os.Getenv("MDRP_DIR")
	if root == "" {
		t.Skip("MDRP_DIR is not set: point it at a copy of the Grubhub mdrplib data (the folder holding public_instances/)")
	}
	dirs, err := filepath.Glob(filepath.Join(root, "public_instances", "*", OrdersFile))
	if err != nil || len(dirs) == 0 {
		t.Skipf("MDRP_DIR=%s holds no public_instances/*/%s", root, OrdersFile)
	}
	for i, d := range dirs {
		dirs[i] = filepath.Dir(d)
	}
	return dirs
}

// TestLoadRealInstances loads every instance and checks its counts and courier hours against the
// instance_characteristics.txt published with it.
func TestLoadRealInstances(t *testing.T) {
	for _, dir := range realInstances(t) {
		in, err := Load(dir)
		if err != nil {
			t.Error(err)
			continue
		}
		chars, err := readCharacteristics(filepath.Join(dir, "instance_characteristics.txt"))
		if err != nil {
			t.Errorf("%s: %v", in.Name, err)
			continue
		}
		hours := 0.0
		for _, c := range in.Couriers {
			hours += float64(c.Off-c.On) / 60
		}
		for _, c := range []struct {
			key string
			got float64
			tol float64
		}{
			{"number of orders", float64(len(in.Orders)), 0},
			{"number of restaurants", float64(len(in.Restaurants)), 0},
			{"number of couriers", float64(len(in.Couriers)), 0},
			{"total courier hours", hours, 0.006}, // published with two decimals
		} {
			want, ok := chars[c.key]
			if !ok {
				t.Errorf("%s: instance_characteristics.txt lacks %q", in.Name, c.key)
			} else if math.Abs(c.got-want) > c.tol {
				t.Errorf("%s: %s = %v, published %v", in.Name, c.key, c.got, want)
			}
		}
	}
}

// TestValidateRealGreedy runs the test's simple dispatcher on every real instance: its solutions obey the
// rules, so the validator must accept them, and they must survive a write/read round trip unchanged.
func TestValidateRealGreedy(t *testing.T) {
	for _, dir := range realInstances(t) {
		in, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		s := greedy(in, 3, 5)
		out := t.TempDir()
		if err := WriteSolution(out, s); err != nil {
			t.Fatal(err)
		}
		back, err := ReadSolution(out)
		if err != nil {
			t.Fatal(err)
		}
		if vs := Validate(in, back); len(vs) != 0 {
			t.Errorf("%s: %d violations, first: %v", in.Name, len(vs), vs[0])
			continue
		}
		m := Evaluate(in, back)
		t.Logf("%s: delivered %d/%d, click-to-door mean %.1f, utilisation mean %.2f", in.Name,
			m.OrdersDelivered, m.Orders, m.ClickToDoor.Mean, m.Utilization.Mean)
	}
}

// readCharacteristics reads the "key: number" lines at the top of instance_characteristics.txt.
func readCharacteristics(path string) (map[string]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		if x, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			out[strings.TrimSpace(k)] = x
		}
	}
	return out, sc.Err()
}
