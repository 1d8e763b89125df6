package roads

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// townMap returns the test town's prepared map file.
func townMap(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := openTown(t).WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeFile writes data to a file called name in a fresh folder and returns its path.
func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMapRoundTrip(t *testing.T) {
	orig := openTown(t)
	var buf bytes.Buffer
	if _, err := orig.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	loaded, err := Open(writeFile(t, "town.map", buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Stats() != orig.Stats() {
		t.Errorf("Stats after loading:\n%v\nbefore:\n%v", loaded.Stats(), orig.Stats())
	}
	var again bytes.Buffer
	if _, err := loaded.WriteTo(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), buf.Bytes()) {
		t.Errorf("the loaded network writes %d different bytes from the %d it was read from", again.Len(), buf.Len())
	}
	if !slices.Equal(loaded.nodes, orig.nodes) || !slices.Equal(loaded.shape, orig.shape) || !slices.Equal(loaded.geomOff, orig.geomOff) {
		t.Error("nodes or shapes differ after loading")
	}
	// Opened again keeping the spaces of every node, then of none (Options.KeptShare): it answers the same.
	file := writeFile(t, "again.map", buf.Bytes())
	var shared []*Network
	for _, share := range []float64{1, -1} {
		net, err := OpenWith(context.Background(), file, Options{KeptShare: share})
		if err != nil {
			t.Fatal(err)
		}
		if b, err := net.KeepTop(context.Background()); err != nil || (b > 0) != (share > 0) {
			t.Errorf("KeepTop with a share of %v: %d bytes, %v", share, b, err)
		}
		shared = append(shared, net)
	}
	pts := []orb.Point{townNode(1), townNode(3), townPoint(1.3, 0.4), townNode(8), townPoint(0.5, 3)}
	for p := geo.Profile(0); p < geo.NumProfiles; p++ {
		for _, a := range pts {
			for _, b := range pts {
				x, y := orig.TravelTime(a, b, p), loaded.TravelTime(a, b, p)
				all, none := shared[0].TravelTime(a, b, p), shared[1].TravelTime(a, b, p)
				if x != y || x != all || x != none {
					t.Errorf("%s %v→%v: %v before, %v after loading, %v and %v keeping every and no top space",
						p, a, b, x, y, all, none)
				}
			}
		}
	}
}

// sections returns the name, offset and length of each section of a map file.
func sections(t testing.TB, data []byte) (names []string, offs, lens []int) {
	t.Helper()
	count := int(binary.LittleEndian.Uint32(data[len(mapMagic)+4:]))
	for i := 0; i < count; i++ {
		e := data[len(mapMagic)+8+i*tableEntryLen:]
		names = append(names, string(bytes.TrimRight(e[:sectionNameLen], "\x00")))
		offs = append(offs, int(binary.LittleEndian.Uint64(e[sectionNameLen:])))
		lens = append(lens, int(binary.LittleEndian.Uint64(e[sectionNameLen+8:])))
	}
	return names, offs, lens
}

func TestMapDamage(t *testing.T) {
	good := townMap(t)
	names, offs, lens := sections(t, good)
	if len(names) != 5+2*numGraphs {
		t.Fatalf("%d sections: %v", len(names), names)
	}
	for i, name := range names {
		t.Run("flip a byte in "+name, func(t *testing.T) {
			for _, at := range []int{offs[i], offs[i] + lens[i]/2, offs[i] + lens[i] - 1} {
				bad := slices.Clone(good)
				bad[at] ^= 0x40
				_, err := Open(writeFile(t, "city.map", bad))
				if err == nil || !errors.Is(err, ErrMapFormat) || !strings.HasSuffix(err.Error(), "city.map: checksum mismatch in section "+name) {
					t.Errorf("byte %d flipped: %v", at, err)
				}
			}
		})
	}
	t.Run("flip a byte in the table", func(t *testing.T) {
		bad := slices.Clone(good)
		bad[len(mapMagic)+8+3] ^= 1
		if _, err := decodeMap(bad); err == nil || !strings.Contains(err.Error(), "checksum mismatch in the section table") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("truncate", func(t *testing.T) {
		for n := 0; n < len(good); n += 1 + n/8 {
			_, err := decodeMap(good[:n])
			if !errors.Is(err, ErrMapFormat) {
				t.Fatalf("cut to %d bytes: %v", n, err)
			}
		}
		_, err := decodeMap(good[:len(good)-1])
		if err == nil || !strings.Contains(err.Error(), "truncated: section ch.car ends at byte") {
			t.Errorf("cut by one byte: %v", err)
		}
	})
	t.Run("newer version", func(t *testing.T) {
		bad := slices.Clone(good)
		binary.LittleEndian.PutUint32(bad[len(mapMagic):], 3)
		_, err := Open(writeFile(t, "city.map", bad))
		if err == nil || !strings.HasSuffix(err.Error(), "city.map: format version 3, this build reads 2") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("older version", func(t *testing.T) {
		bad := slices.Clone(good)
		binary.LittleEndian.PutUint32(bad[len(mapMagic):], 1)
		_, err := Open(writeFile(t, "city.map", bad))
		if !errors.Is(err, ErrMapFormat) || !strings.HasSuffix(err.Error(),
			"city.map: format version 1, older than this build's 2: prepare the map again (dispatchd map prepare)") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("foreign", func(t *testing.T) {
		for _, data := range [][]byte{nil, []byte("hello"), []byte("\x89PNG\r\n\x1a\n0000000000000000"), bytes.Repeat([]byte{0}, 64)} {
			_, err := Open(writeFile(t, "city.map", data))
			if !errors.Is(err, ErrMapFormat) || !strings.Contains(err.Error(), "city.map: not a dispatchd map file") {
				t.Errorf("%q: %v", data, err)
			}
			if _, err := decodeMap(data); err == nil || !strings.Contains(err.Error(), "not a dispatchd map file") {
				t.Errorf("decodeMap(%q): %v", data, err)
			}
		}
	})
	t.Run("missing file", func(t *testing.T) {
		if _, err := Open(filepath.Join(t.TempDir(), "none.map")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("got %v", err)
		}
	})
}

func FuzzOpenMap(f *testing.F) {
	good := townMap(f)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(mapMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		net, err := decodeMap(data)
		if err != nil {
			if !errors.Is(err, ErrMapFormat) {
				t.Fatalf("error %v does not match ErrMapFormat", err)
			}
			return
		}
		// Whatever loads must answer without panicking.
		net.snapLimit = DefaultSnapLimitMetres
		for p := geo.Profile(0); p < geo.NumProfiles; p++ {
			net.TravelTime(townNode(1), townNode(8), p)
			_, _ = net.Path(townNode(4), townNode(3), p)
		}
		_ = net.CheckPoint(townNode(2))
	})
}
