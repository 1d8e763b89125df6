package httpapi

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// tableRoads is a road map for the API's tests: trips take 10 s per 0.001° of latitude climbed or descended, at a
// metre a second for the bike and twice as long on foot; latitudes above 31.3 are off the roads, and nothing leads
// to a latitude below 31.0.
type tableRoads struct{ asked geo.Profile }

func (m *tableRoads) Table(src, dst []orb.Point, p geo.Profile) ([]time.Duration, []float64, error) {
	m.asked = p
	for i, pt := range src {
		if pt[1] > 31.3 {
			return nil, nil, &geo.PointError{List: "sources", Index: i, Err: fmt.Errorf("%w: 2 km from the nearest road", geo.ErrOffRoad)}
		}
	}
	for i, pt := range dst {
		if pt[1] > 31.3 {
			return nil, nil, &geo.PointError{List: "destinations", Index: i, Err: fmt.Errorf("%w: 2 km from the nearest road", geo.ErrOffRoad)}
		}
	}
	var durs []time.Duration
	var metres []float64
	for _, a := range src {
		for _, b := range dst {
			if b[1] < 31.0 {
				durs, metres = append(durs, math.MaxInt64), append(metres, math.Inf(1))
				continue
			}
			m := (b[1] - a[1]) * 10_000
			if m < 0 {
				m = -m
			}
			d := time.Duration(m * float64(time.Second))
			if p == geo.Foot {
				d *= 2
			}
			durs, metres = append(durs, d), append(metres, m)
		}
	}
	return durs, metres, nil
}

func TestTravelTimes(t *testing.T) {
	f := newFixture(t)
	roads := &tableRoads{}
	srv := httptest.NewServer(New(f.d, Config{AdminToken: adminToken, Roads: roads}).Handler())
	defer srv.Close()
	post := func(body string) (int, []byte) {
		resp, b := request(t, srv, "POST", "/v1/travel-times", f.key, body)
		return resp.StatusCode, b
	}

	status, body := post(`{"profile":"foot","sources":[{"lat":31.20,"lon":121.47},{"lat":31.25,"lon":121.47}],
		"destinations":[{"lat":31.21,"lon":121.47},{"lat":30.9,"lon":121.47},{"lat":31.25,"lon":121.47}]}`)
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	var got struct {
		Profile   string
		Durations [][]*float64
		Distances [][]*float64
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Profile != "foot" || roads.asked != geo.Foot {
		t.Fatalf("profile %q, map asked for %s; want foot", got.Profile, roads.asked)
	}
	want := [][]float64{{200, -1, 1000}, {800, -1, 0}} // seconds on foot; -1: no road
	for i := range want {
		for j, w := range want[i] {
			d, m := got.Durations[i][j], got.Distances[i][j]
			if w < 0 {
				if d != nil || m != nil {
					t.Fatalf("[%d][%d] has no road but answered %v s %v m", i, j, d, m)
				}
				continue
			}
			if d == nil || m == nil || *d != w || *m != w/2 {
				t.Fatalf("[%d][%d] = %v s %v m, want %v s %v m in %s", i, j, d, m, w, w/2, body)
			}
		}
	}

	for _, tc := range []struct{ name, body, field string }{
		{"NoProfile", `{"sources":[{"lat":31.2,"lon":121.4}],"destinations":[{"lat":31.2,"lon":121.4}]}`, "profile"},
		{"UnknownProfile", `{"profile":"boat","sources":[{"lat":31.2,"lon":121.4}],"destinations":[{"lat":31.2,"lon":121.4}]}`, "profile"},
		{"NoSources", `{"profile":"bike","sources":[],"destinations":[{"lat":31.2,"lon":121.4}]}`, "sources"},
		{"MissingLat", `{"profile":"bike","sources":[{"lon":121.4}],"destinations":[{"lat":31.2,"lon":121.4}]}`, "sources[0].lat"},
		{"LatOutOfRange", `{"profile":"bike","sources":[{"lat":31.2,"lon":121.4}],"destinations":[{"lat":31.2,"lon":121.4},{"lat":95,"lon":121.4}]}`, "destinations[1]"},
		{"OffTheRoads", `{"profile":"bike","sources":[{"lat":31.2,"lon":121.4}],"destinations":[{"lat":31.2,"lon":121.4},{"lat":31.4,"lon":121.4}]}`, "destinations[1]"},
		{"TooManyPairs", tooMany(), "destinations"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(tc.body)
			var e errorBody
			json.Unmarshal(body, &e)
			if status != 400 || e.Error.Field != tc.field {
				t.Fatalf("%d %s, want 400 naming %s", status, body, tc.field)
			}
		})
	}
}

// tooMany is a request of 101 × 100 pairs, each list within its own limit.
func tooMany() string {
	list := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = `{"lat":31.2,"lon":121.4}`
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return `{"profile":"bike","sources":` + list(101) + `,"destinations":` + list(100) + `}`
}
