package httpapi

import (
	"errors"
	"fmt"
	"math"
	"net/http"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
	"github.com/o2o-dispatch/dispatchd/geo"
)

// Limits of one travel-times request: each list holds 1 to maxTablePoints points, and the table at most
// maxTableCells pairs (a 100 × 100 table is answered in milliseconds; the cap keeps one request from holding a
// core for long).
const (
	maxTablePoints = 1000
	maxTableCells  = 10_000
)

type travelTimesBody struct {
	Profile      string          `json:"profile"`
	Sources      []*locationBody `json:"sources"`
	Destinations []*locationBody `json:"destinations"`
}

// travelTimes answers the durations in seconds and distances in metres of the road trips between every source and
// every destination: row i, column j is from sources[i] to destinations[j], null where no road connects them.
type travelTimes struct {
	Profile   string       `json:"profile"`
	Durations [][]*float64 `json:"durations"`
	Distances [][]*float64 `json:"distances"`
}

func points(field string, list []*locationBody) ([]orb.Point, error) {
	switch {
	case len(list) == 0:
		return nil, apiError(dispatch.EInvalid, field, "%s must list at least one location", field)
	case len(list) > maxTablePoints:
		return nil, apiError(dispatch.EInvalid, field, "%s lists %d locations, at most %d are allowed", field, len(list), maxTablePoints)
	}
	pts := make([]orb.Point, len(list))
	for i, l := range list {
		f := fmt.Sprintf("%s[%d]", field, i)
		loc, err := l.location(f)
		if err != nil {
			return nil, err
		}
		if err := geo.Geographic.Validate(loc.Point()); err != nil {
			return nil, apiError(dispatch.EInvalid, f, "%s: %v", f, err)
		}
		pts[i] = loc.Point()
	}
	return pts, nil
}

func (s *Server) travelTimes(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	if s.cfg.Roads == nil {
		return apiError(dispatch.EUnavailable, "", "no road map is loaded: start dispatchd with --map to answer travel times")
	}
	var b travelTimesBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	if b.Profile == "" {
		return apiError(dispatch.EInvalid, "profile", "profile is required (foot, bike, ebike, scooter or car)")
	}
	profile, err := geo.ParseProfile(b.Profile)
	if err != nil {
		return apiError(dispatch.EInvalid, "profile", "profile must be foot, bike, ebike, scooter or car")
	}
	src, err := points("sources", b.Sources)
	if err != nil {
		return err
	}
	dst, err := points("destinations", b.Destinations)
	if err != nil {
		return err
	}
	if cells := len(src) * len(dst); cells > maxTableCells {
		return apiError(dispatch.EInvalid, "destinations", "%d sources × %d destinations is %d pairs, at most %d are allowed",
			len(src), len(dst), cells, maxTableCells)
	}
	durs, metres, err := s.cfg.Roads.Table(src, dst, profile)
	var pe *geo.PointError
	if errors.As(err, &pe) {
		f := fmt.Sprintf("%s[%d]", pe.List, pe.Index)
		return apiError(dispatch.EInvalid, f, "%s: %v", f, pe.Err)
	}
	if err != nil {
		return err
	}
	out := travelTimes{Profile: profile.String(), Durations: make([][]*float64, len(src)), Distances: make([][]*float64, len(src))}
	for i := range src {
		out.Durations[i] = make([]*float64, len(dst))
		out.Distances[i] = make([]*float64, len(dst))
		for j := range dst {
			k := i*len(dst) + j
			if durs[k] == math.MaxInt64 {
				continue
			}
			sec := math.Round(durs[k].Seconds()*10) / 10
			m := math.Round(metres[k]*10) / 10
			out.Durations[i][j], out.Distances[i][j] = &sec, &m
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
