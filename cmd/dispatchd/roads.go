package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/o2o-dispatch/dispatchd/geo/roads"
)

// loadMap opens --map: a prepared map file or a raw OpenStreetMap extract (roads.OpenWith tells them apart by their
// first bytes). Importing a raw extract contracts every profile's graph at each start; a prepared file loads in
// seconds.
func (m *Main) loadMap(ctx context.Context, log zerolog.Logger) (*roads.Network, error) {
	began := time.Now()
	share := m.MapKeptShare
	if share <= 0 {
		share = -1 // roads.Options: none kept
	}
	net, err := roads.OpenWith(ctx, m.Map, roads.Options{KeptShare: share})
	if err != nil {
		return nil, fmt.Errorf("dispatchd: --map: %w", err)
	}
	st := net.Stats()
	log.Info().Str("path", m.Map).Str("took", time.Since(began).Round(time.Millisecond).String()).
		Str("roads", st.String()).Msg("road map loaded: travel times, ETAs and routes follow its roads")
	return net, nil
}

const mapUsage = `usage: dispatchd map prepare --osm city.osm.pbf --out city.map [--snap-limit 500]

Reads the roads of an OpenStreetMap extract (PBF, or XML) for every vehicle profile, keeps each profile's largest
strongly connected part, contracts it for fast exact queries, and writes a versioned, checksummed map file that
dispatchd --map and dispatch-sim --map load in seconds. A raw extract is accepted there too, at the price of this
preparation at every start.`

// runMap is the "dispatchd map" command.
func runMap(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "prepare" {
		fmt.Fprintln(stderr, mapUsage)
		return errors.New("dispatchd map: the only command is prepare")
	}
	fs := flag.NewFlagSet("dispatchd map prepare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	osmPath := fs.String("osm", "", "OpenStreetMap extract to read (.osm.pbf, or .osm XML)")
	out := fs.String("out", "", "map file to write")
	limit := fs.Float64("snap-limit", roads.DefaultSnapLimitMetres, "metres from the nearest road beyond which a place is refused")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch {
	case *osmPath == "":
		return errors.New("dispatchd map prepare: --osm is required")
	case *out == "":
		return errors.New("dispatchd map prepare: --out is required")
	case fs.NArg() > 0:
		return fmt.Errorf("dispatchd map prepare: unexpected argument %q", fs.Arg(0))
	}
	began := time.Now()
	// Written beside the target and renamed into place, so that a failed or interrupted run leaves no half map.
	tmp, err := os.CreateTemp(filepath.Dir(*out), filepath.Base(*out)+".*.tmp")
	if err != nil {
		return fmt.Errorf("dispatchd map prepare: %w", err)
	}
	defer os.Remove(tmp.Name())
	st, err := roads.Prepare(ctx, *osmPath, tmp, roads.Options{SnapLimitMetres: *limit})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), *out)
	}
	if err != nil {
		return fmt.Errorf("dispatchd map prepare: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s in %s\n%s\n", *out, time.Since(began).Round(time.Millisecond), st)
	return nil
}
