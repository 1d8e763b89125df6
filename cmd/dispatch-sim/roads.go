package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
	"github.com/o2o-dispatch/dispatchd/geo/roads"
)

// openMap loads --map: a prepared map file or a raw OpenStreetMap extract.
func openMap(path string, stderr io.Writer) (*roads.Network, error) {
	began := time.Now()
	net, err := roads.Open(path)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "road map %s loaded in %s: %s\n", path, time.Since(began).Round(time.Millisecond), net.Stats())
	return net, nil
}

// scenarioRoads puts a synthetic scenario on a map: places go to the nearest road a bicycle may use (the streets
// and paths every courier of a city reaches), and places farther from every road than the map allows are drawn
// again.
type scenarioRoads struct{ *roads.Network }

func (r scenarioRoads) OnRoad(p orb.Point) (orb.Point, error) {
	if err := r.CheckPoint(p); err != nil {
		return orb.Point{}, err
	}
	on, ok := r.Snap(p, geo.Bike)
	if !ok {
		return orb.Point{}, errors.New("the map has no road for bicycles")
	}
	return on, nil
}

var pairsHeader = []string{"from_lat", "from_lon", "to_lat", "to_lon"}

// table is "dispatch-sim table": the road trip of every pair of a CSV file, for analysts to hold the map against
// their own data.
func table(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("table", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mapPath := fs.String("map", "", "road map: a prepared map file or an OpenStreetMap extract")
	profileName := fs.String("profile", "", "vehicle: foot, bike, ebike, scooter or car")
	in := fs.String("pairs", "", "CSV file with the header from_lat,from_lon,to_lat,to_lon")
	out := fs.String("out", "", "CSV file to write: each row of --pairs with seconds,metres added")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	switch {
	case *mapPath == "" || *in == "" || *out == "" || *profileName == "":
		return fmt.Errorf("%w: table needs --map, --profile, --pairs and --out", errUsage)
	case fs.NArg() > 0:
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	profile, err := geo.ParseProfile(*profileName)
	if err != nil {
		return fmt.Errorf("%w: --profile: %v", errUsage, err)
	}
	pairs, rows, err := readPairs(*in)
	if err != nil {
		return err
	}
	net, err := openMap(*mapPath, stderr)
	if err != nil {
		return err
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write(append(append([]string{}, pairsHeader...), "seconds", "metres"))
	unreachable := 0
	for i, p := range pairs {
		d, m, err := net.Table(p[:1], p[1:], profile)
		if err != nil {
			f.Close()
			return fmt.Errorf("%s: row %d: %w", *in, i+2, err)
		}
		secs, metres := "", ""
		if d[0] >= 0 && d[0] != math.MaxInt64 {
			secs, metres = strconv.FormatFloat(d[0].Seconds(), 'f', 1, 64), strconv.FormatFloat(m[0], 'f', 1, 64)
		} else {
			unreachable++
		}
		w.Write(append(rows[i], secs, metres))
	}
	w.Flush()
	if err := errors.Join(w.Error(), f.Close()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d pairs for %s, %d with no road between them\n", *out, len(pairs), profile, unreachable)
	return nil
}

// readPairs reads the pairs file: the header, then one pair of points a row.
func readPairs(path string) ([][2]orb.Point, [][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = len(pairsHeader)
	head, err := r.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	for i, h := range pairsHeader {
		if head[i] != h {
			return nil, nil, fmt.Errorf("%s: the header must be %v, column %d is %q", path, pairsHeader, i+1, head[i])
		}
	}
	var pairs [][2]orb.Point
	var rows [][]string
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		var v [4]float64
		for i, s := range rec {
			if v[i], err = strconv.ParseFloat(s, 64); err != nil || math.IsNaN(v[i]) || math.IsInf(v[i], 0) {
				return nil, nil, fmt.Errorf("%s: row %d: %s %q is not a number", path, line, pairsHeader[i], s)
			}
		}
		p := [2]orb.Point{{v[1], v[0]}, {v[3], v[2]}}
		for k, pt := range p {
			if err := geo.Geographic.Validate(pt); err != nil {
				return nil, nil, fmt.Errorf("%s: row %d: %s: %v", path, line, []string{"from", "to"}[k], err)
			}
		}
		pairs, rows = append(pairs, p), append(rows, rec)
	}
	return pairs, rows, nil
}
