package load

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// location is a WGS 84 point as the API writes it.
type location struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// earthRadiusM is the mean Earth radius; at city scale a sphere is close enough.
const earthRadiusM = 6_371_000.0

// offset moves from by north and east metres. It is the flat-Earth approximation, which is off by far less than
// a metre over the few kilometres of a city.
func offset(from location, northM, eastM float64) location {
	lat := from.Lat + northM/earthRadiusM*180/math.Pi
	lon := from.Lon + eastM/(earthRadiusM*math.Cos(from.Lat*math.Pi/180))*180/math.Pi
	return location{Lat: lat, Lon: lon}
}

// distanceM is the great-circle (haversine) distance.
func distanceM(a, b location) float64 {
	rad := math.Pi / 180
	dLat, dLon := (b.Lat-a.Lat)*rad, (b.Lon-a.Lon)*rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthRadiusM * math.Asin(math.Min(1, math.Sqrt(h)))
}

// Drop-offs are this far from their store, in metres.
const (
	minDropoffM = 500
	maxDropoffM = 4000
)

type customer struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

// orderRequest is the body of POST /v1/orders; the daemon rejects unknown fields, so it holds only the API's.
type orderRequest struct {
	ExternalID     string   `json:"external_id"`
	StoreID        string   `json:"store_id"`
	Dropoff        location `json:"dropoff"`
	PrepSeconds    int      `json:"prep_seconds"`
	PromiseSeconds int      `json:"promise_seconds"`
	Size           int      `json:"size"`
	Customer       customer `json:"customer"`
}

// orderTargeter makes POST /v1/orders requests. Its next is a vegeta.Targeter, which vegeta's workers call
// concurrently: the only shared state is the atomic sequence number and the read-only fixture.
type orderTargeter struct {
	url            string
	auth           string
	runID          string
	stores         []storeSite
	prepSeconds    int
	promiseSeconds int
	// dropMinM and dropMaxM bound a drop-off's distance from its store.
	dropMinM, dropMaxM float64
	seq                atomic.Uint64
}

func newOrderTargeter(base string, fx *fixture) *orderTargeter {
	t := &orderTargeter{url: base + "/v1/orders", auth: "Bearer " + fx.orderKey, runID: fx.runID, stores: fx.stores,
		prepSeconds: 600, promiseSeconds: 1800, dropMinM: fx.dropMinM, dropMaxM: fx.dropMaxM}
	if t.dropMaxM <= 0 {
		t.dropMinM, t.dropMaxM = minDropoffM, maxDropoffM
	}
	return t
}

func (t *orderTargeter) next(tgt *vegeta.Target) error {
	key, _, body, err := t.order(t.seq.Add(1))
	if err != nil {
		return err
	}
	tgt.Method, tgt.URL, tgt.Body = http.MethodPost, t.url, body
	// A fresh header per request: vegeta copies it into the request, and each one needs its own key.
	tgt.Header = http.Header{
		"Authorization":   {t.auth},
		"Content-Type":    {"application/json"},
		"Idempotency-Key": {key},
	}
	return nil
}

// order makes the n-th order of the run: its Idempotency-Key, external id and body, from a random store to a
// drop-off dropMinM to dropMaxM away from it (--dropoff-min-m, --dropoff-max-m).
func (t *orderTargeter) order(n uint64) (key, externalID string, body []byte, err error) {
	s := strconv.FormatUint(n, 10)
	store := t.stores[rand.IntN(len(t.stores))]
	dist := t.dropMinM + rand.Float64()*(t.dropMaxM-t.dropMinM)
	bearing := rand.Float64() * 2 * math.Pi
	externalID = orderExternalPrefix(t.runID) + s
	body, err = json.Marshal(orderRequest{
		ExternalID:     externalID,
		StoreID:        store.id,
		Dropoff:        offset(store.loc, dist*math.Cos(bearing), dist*math.Sin(bearing)),
		PrepSeconds:    t.prepSeconds,
		PromiseSeconds: t.promiseSeconds,
		Size:           1,
		Customer:       customer{Name: "Load Test", Phone: "+86 21 5555 " + s},
	})
	return t.runID + "-" + s, externalID, body, err
}

// orderExternalPrefix starts the external id of every order of a run, which tells them from other runs' orders.
func orderExternalPrefix(runID string) string { return "load-" + runID + "-" }

// locationRequest is the body of POST /v1/courier/location.
type locationRequest struct {
	Location location `json:"location"`
	At       string   `json:"at"`
	SpeedMPS float64  `json:"speed_mps"`
	Heading  float64  `json:"heading"`
}

// courierWalk is where one courier is and which way it goes. Its lock matters only when there are fewer couriers
// than requests in flight, and two workers take the same courier at once.
type courierWalk struct {
	mu      sync.Mutex
	loc     location
	heading float64 // degrees clockwise from north
}

// locationTargeter makes POST /v1/courier/location requests, taking the couriers in turn, each a few metres on
// from its last position.
type locationTargeter struct {
	url      string
	center   location
	maxFromM float64
	auths    []string
	ids      []string
	walks    []courierWalk
	seq      atomic.Uint64
	now      func() time.Time
}

func newLocationTargeter(base string, fx *fixture, center location, areaM float64) *locationTargeter {
	t := &locationTargeter{url: base + "/v1/courier/location", center: center, maxFromM: areaM / 2, now: time.Now,
		auths: make([]string, len(fx.couriers)), ids: make([]string, len(fx.couriers)), walks: make([]courierWalk, len(fx.couriers))}
	for i, c := range fx.couriers {
		t.auths[i] = "Bearer " + c.token
		t.ids[i] = c.id
		t.walks[i].loc = c.loc
		t.walks[i].heading = rand.Float64() * 360
	}
	return t
}

func (t *locationTargeter) next(tgt *vegeta.Target) error {
	i := int((t.seq.Add(1) - 1) % uint64(len(t.walks)))
	loc, heading, step := t.move(i)
	body, err := json.Marshal(locationRequest{
		Location: loc,
		At:       t.now().UTC().Format(time.RFC3339Nano),
		SpeedMPS: math.Round(step/5*10) / 10, // as if reports came every 5 s
		Heading:  math.Floor(heading*10) / 10,
	})
	if err != nil {
		return err
	}
	tgt.Method, tgt.URL, tgt.Body = http.MethodPost, t.url, body
	tgt.Header = http.Header{
		"Authorization": {t.auths[i]},
		"Content-Type":  {"application/json"},
	}
	return nil
}

// move advances courier i and returns where it is now, its heading and the step it made (metres).
func (t *locationTargeter) move(i int) (location, float64, float64) {
	w := &t.walks[i]
	w.mu.Lock()
	// A courier drifts: its heading turns by up to 30° each report and it moves 5 to 40 m. Couriers that leave the
	// area turn back towards the centre, so the fleet stays where the stores are.
	w.heading = math.Mod(w.heading+rand.Float64()*60-30+360, 360)
	if distanceM(t.center, w.loc) > t.maxFromM {
		w.heading = bearingDeg(w.loc, t.center)
	}
	step := 5 + rand.Float64()*35
	h := w.heading * math.Pi / 180
	w.loc = offset(w.loc, step*math.Cos(h), step*math.Sin(h))
	loc, heading := w.loc, w.heading
	w.mu.Unlock()
	return loc, heading, step
}

// batchEntry and batchRequest are the body of POST /v1/courier-locations.
type batchEntry struct {
	CourierID string   `json:"courier_id"`
	Location  location `json:"location"`
	At        string   `json:"at"`
}

type batchRequest struct {
	Locations []batchEntry `json:"locations"`
}

// batchTargeter makes POST /v1/courier-locations requests with the next size couriers' positions each, as a gateway
// relaying the fleet's reports would.
type batchTargeter struct {
	walk *locationTargeter
	url  string
	auth string
	size int
}

func newBatchTargeter(base, adminToken string, size int, walk *locationTargeter) *batchTargeter {
	return &batchTargeter{walk: walk, url: base + "/v1/courier-locations", auth: "Bearer " + adminToken, size: size}
}

func (t *batchTargeter) next(tgt *vegeta.Target) error {
	req := batchRequest{Locations: make([]batchEntry, t.size)}
	at := t.walk.now().UTC().Format(time.RFC3339Nano)
	for k := range req.Locations {
		i := int((t.walk.seq.Add(1) - 1) % uint64(len(t.walk.walks)))
		loc, _, _ := t.walk.move(i)
		req.Locations[k] = batchEntry{CourierID: t.walk.ids[i], Location: loc, At: at}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	tgt.Method, tgt.URL, tgt.Body = http.MethodPost, t.url, body
	tgt.Header = http.Header{"Authorization": {t.auth}, "Content-Type": {"application/json"}}
	return nil
}

// bearingDeg is the initial bearing from a to b, in degrees clockwise from north within [0, 360).
func bearingDeg(a, b location) float64 {
	rad := math.Pi / 180
	y := math.Sin((b.Lon-a.Lon)*rad) * math.Cos(b.Lat*rad)
	x := math.Cos(a.Lat*rad)*math.Sin(b.Lat*rad) - math.Sin(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Cos((b.Lon-a.Lon)*rad)
	return math.Mod(math.Atan2(y, x)/rad+360, 360)
}
