package daemon

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"math"
	"regexp"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/fulfil"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
	"github.com/o2o-dispatch/dispatchd/geo"
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// ValidID reports whether id is a valid client-chosen id of a store or courier.
func ValidID(id string) bool { return idPattern.MatchString(id) }

var token32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewToken returns a random 256-bit secret with a prefix saying what it is for ("dk_" keys, "dc_" courier tokens).
func NewToken(prefix string) string {
	var b [32]byte
	rand.Read(b[:])
	return prefix + token32.EncodeToString(b[:])
}

// newID returns a random id with a prefix ("ord_", "key_"): 80 random bits, enough that ids never collide and cannot
// be guessed.
func newID(prefix string) string {
	var b [10]byte
	rand.Read(b[:])
	return prefix + token32.EncodeToString(b[:])
}

func checkLocation(field string, l service.Location) error {
	switch {
	case math.IsNaN(l.Lat) || l.Lat < -90 || l.Lat > 90:
		return errorf(dispatch.EInvalid, field+".lat", "%s.lat must be within [-90, 90]", field)
	case math.IsNaN(l.Lon) || l.Lon < -180 || l.Lon > 180:
		return errorf(dispatch.EInvalid, field+".lon", "%s.lon must be within [-180, 180]", field)
	}
	return nil
}

// checkPlace checks a place that a store or an order names: a valid location and, on a road map, near enough to a
// road (geo.PointChecker). It runs before the request reaches the loop, so a place off the roads is never journaled;
// a record journaled before the map was loaded still replays, since the engine itself travels from the nearest road.
func (d *Daemon) checkPlace(field string, l service.Location) error {
	if err := checkLocation(field, l); err != nil {
		return err
	}
	if pc, ok := d.cfg.Travel.(geo.PointChecker); ok {
		if err := pc.CheckPoint(l.Point()); err != nil {
			return errorf(dispatch.EInvalid, field, "%s is off the road map: %v", field, err)
		}
	}
	return nil
}

// checkOrder checks an order or a quote's input, its drop-off on the road map included.
func (d *Daemon) checkOrder(in *service.OrderInput) error {
	if err := checkOrderInput(in); err != nil {
		return err
	}
	if in.NoDropoff {
		return nil
	}
	return d.checkPlace("dropoff", in.Dropoff)
}

// PutStore creates or replaces a store. created says which.
func (d *Daemon) PutStore(ctx context.Context, in service.StoreInput) (*service.Store, bool, error) {
	switch {
	case !ValidID(in.ID):
		return nil, false, errorf(dispatch.EInvalid, "store_id", "store_id must match [A-Za-z0-9._:-]{1,64}")
	case len(in.Name) > 200:
		return nil, false, errorf(dispatch.EInvalid, "name", "name is longer than 200 bytes")
	case in.PrepSeconds < 0 || in.PrepSeconds > 86400:
		return nil, false, errorf(dispatch.EInvalid, "prep_seconds", "prep_seconds must be within [0, 86400]")
	case in.MaxActiveOrders < 0:
		return nil, false, errorf(dispatch.EInvalid, "max_active_orders", "max_active_orders must not be negative")
	case len(in.Timezone) > 64:
		return nil, false, errorf(dispatch.EInvalid, "timezone", "timezone is longer than 64 bytes")
	}
	if err := d.checkRegion(in.Region); err != nil {
		return nil, false, err
	}
	if err := d.checkPlace("location", in.Location); err != nil {
		return nil, false, err
	}
	if err := fulfil.CheckInventory("inventory", in.Inventory, false); err != nil {
		return nil, false, err
	}
	o, err := run(ctx, d, putStore{in})
	return o.view, o.created, err
}

// putStore creates or replaces a store.
type putStore struct{ in service.StoreInput }

type putStoreReply struct {
	view    *service.Store
	created bool
}

func (c putStore) run(d *Daemon, now time.Time) (putStoreReply, uint64, error) {
	in := c.in
	old, existed := d.st.stores.Get(in.ID)
	hours, err := d.parseHours(in.Hours, in.Timezone)
	if err != nil {
		return putStoreReply{}, 0, err
	}
	region := in.Region
	switch {
	case region != "":
	case existed:
		region = old.Region
	default:
		region = d.homeRegion()
	}
	v := &service.Store{ID: in.ID, Name: in.Name, Region: region, Location: in.Location, PrepSeconds: in.PrepSeconds,
		MaxActiveOrders: in.MaxActiveOrders, Timezone: in.Timezone, Inventory: in.Inventory}
	if hours != nil {
		v.Hours = mustJSON(hours.Format()) // the canonical form: spans sorted, past-midnight closings as given
	}
	r, seq, err := recordAs[*service.Store](d, &record{Type: recStorePut, At: now, Store: newStoreRecord(v)})
	return putStoreReply{r, !existed}, seq, err
}

// DeleteStore removes a store without live orders.
func (d *Daemon) DeleteStore(ctx context.Context, id string) error {
	_, err := run(ctx, d, deleteStore{id})
	return err
}

// deleteStore removes a store.
type deleteStore struct{ id string }

func (c deleteStore) run(d *Daemon, now time.Time) (struct{}, uint64, error) {
	if _, ok := d.st.stores.Get(c.id); !ok {
		return struct{}{}, 0, errorf(dispatch.ENotFound, "", "store %q not found", c.id)
	}
	_, seq, err := d.record(&record{Type: recStoreDelete, At: now, ID: c.id})
	return struct{}{}, seq, err
}

// PutCourier creates or replaces a courier's registration. The token is returned on creation and when rotate is
// set (it is shown once; only its hash is kept).
func (d *Daemon) PutCourier(ctx context.Context, in service.CourierInput, rotate bool) (v *service.Courier, token string, created bool, err error) {
	switch {
	case !ValidID(in.ID):
		return nil, "", false, errorf(dispatch.EInvalid, "courier_id", "courier_id must match [A-Za-z0-9._:-]{1,64}")
	case len(in.Name) > 200:
		return nil, "", false, errorf(dispatch.EInvalid, "name", "name is longer than 200 bytes")
	case in.Capacity < 1 || in.Capacity > 1000:
		return nil, "", false, errorf(dispatch.EInvalid, "capacity", "capacity must be within [1, 1000]")
	}
	if err := d.checkRegion(in.Region); err != nil {
		return nil, "", false, err
	}
	if in.Vehicle == "" {
		in.Vehicle = "bike"
	}
	fresh := NewToken("dc_")
	o, err := run(ctx, d, putCourier{in: in, rotate: rotate, token: fresh})
	if err != nil {
		return nil, "", false, err
	}
	if o.tokenSet {
		token = fresh
	}
	return o.view, token, o.created, nil
}

// putCourier creates or replaces a courier's registration; token becomes its token when it is new or rotate is
// set.
type putCourier struct {
	in     service.CourierInput
	rotate bool
	token  string
}

type putCourierReply struct {
	view              *service.Courier
	created, tokenSet bool
}

func (c putCourier) run(d *Daemon, now time.Time) (putCourierReply, uint64, error) {
	in := c.in
	_, existed := d.st.aux[in.ID]
	region := in.Region
	if region == "" {
		region = d.homeRegion()
		if old, ok := d.st.couriers.Get(in.ID); ok {
			region = old.Region
		}
	}
	rec := &courierRecord{ID: in.ID, Name: in.Name, Vehicle: in.Vehicle, Capacity: in.Capacity, Skills: in.Skills,
		Region: storedRegion(region)}
	if !existed || c.rotate {
		rec.TokenHash = service.HashToken(c.token)
	}
	r, seq, err := recordAs[*service.Courier](d, &record{Type: recCourierPut, At: now, Courier: rec})
	return putCourierReply{r, !existed, rec.TokenHash != nil}, seq, err
}

// CreateAPIKey makes an order-service key; the key itself is returned once.
func (d *Daemon) CreateAPIKey(ctx context.Context, name string) (*service.APIKey, string, error) {
	return d.CreateRoleKey(ctx, name, service.RoleOrders)
}

// RevokeAPIKey revokes an order-service key at once.
func (d *Daemon) RevokeAPIKey(ctx context.Context, id string) error {
	_, err := run(ctx, d, recordCommand[*service.APIKey]{&record{Type: recKeyRevoke, ID: id}})
	return err
}

// timeWindow is how far from now an order's or a shift's times may lie: a promise is at most a day
// (promise_seconds' own bound), and so is a shift. A time further off is a client's bug (a zero time, a wrong
// year), and keeping it would plan around nonsense.
const timeWindow = 24 * time.Hour

// resolve turns the input into an order record at now (on the loop: it reads the stores' stock, hours and queues):
// the store (named, or chosen from the items), when it will be ready and until when a courier may collect it.
func (d *Daemon) resolve(now time.Time, in *service.OrderInput) (*orderRecord, error) {
	if in.ReadyAt != nil && in.ReadyAt.Before(now.Add(-timeWindow)) {
		return nil, errorf(dispatch.EInvalid, "ready_at", "ready_at is more than a day in the past")
	}
	rec := &orderRecord{ExternalID: in.ExternalID, Dropoff: newLatLon(in.Dropoff), CreatedAt: now,
		Size: max(in.Size, 1), Skills: in.Skills, Customer: in.Customer, Items: in.Items, Fulfilment: in.Fulfilment,
		NoDropoff: in.NoDropoff, AcceptLate: in.AcceptLate}
	rec.DeliverBy = d.promiseOf(now, in)
	if !rec.DeliverBy.After(now) {
		return nil, errorf(dispatch.EInvalid, "deliver_by", "deliver_by must be in the future")
	}
	// The window, the scheduled book and the limit of deliver_by (schedule.go); prepFrom is when the store's
	// preparation may start.
	prepFrom, err := d.checkWindow(now, in, rec)
	if err != nil {
		return nil, err
	}
	if in.ReadyAt != nil && in.ReadyAt.After(rec.DeliverBy) {
		return nil, errorf(dispatch.EInvalid, "ready_at", "the order would be ready after deliver_by")
	}
	req := fulfilRequest(in, rec.DeliverBy)
	req.ReadyByPromise = true
	if req.Region, err = d.orderRegion(in); err != nil {
		return nil, err
	}
	plan, err := d.net.Choose(prepFrom, req)
	if err != nil {
		return nil, err
	}
	rec.StoreID, rec.ReadyAt, rec.PickupBy = plan.StoreID, plan.Ready, plan.PickupBy
	if err := d.finishWindow(now, rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// reach is the best any courier could do for a delivery order (nil for an in-store pick-up, or a store the daemon
// does not know). It reads the daemon's own stores, not the engine, so placements need not wait for a round.
func (d *Daemon) reach(rec *orderRecord) *dispatch.Reach {
	st, ok := d.st.stores.Get(rec.StoreID)
	if rec.Fulfilment == service.FulfilPickup || !ok {
		return nil
	}
	r := dispatch.ReachOf(&d.cfg.Engine, d.cfg.Travel, st.Location.Point(), rec.Dropoff.Point(), rec.ReadyAt, rec.DeliverBy, rec.AcceptLate)
	return &r
}

// unreachable is the 422 for an order no vehicle could deliver in time (reach.Reason set).
func unreachable(r *dispatch.Reach) *dispatch.Error {
	msg := fmt.Sprintf("no vehicle could deliver this order in time: ready at %s, the fastest ride (%s) takes %s, so the earliest drop-off is %s, after the promise plus the hard lateness (%s); send accept_late: true to take it anyway",
		r.Ready.Format(time.RFC3339), r.Vehicle, r.Ride.Round(time.Second), r.EarliestDropoff.Format(time.RFC3339), r.LatestDropoff.Format(time.RFC3339))
	if r.Reason == dispatch.ReachRideTooLong {
		msg = fmt.Sprintf("no vehicle could deliver this order: the fastest ride (%s) takes %s, longer than a courier may carry an order", r.Vehicle, r.Ride.Round(time.Second))
	}
	return &dispatch.Error{Code: dispatch.EUnservable, Field: "dropoff", Message: msg, Reasons: []string{r.Reason}, Reach: r}
}

// promiseOf is the order's deliver_by: given, or now plus the promise given or the default one.
func (d *Daemon) promiseOf(now time.Time, in *service.OrderInput) time.Time {
	switch {
	case in.DeliverBy != nil:
		return in.DeliverBy.UTC()
	case in.PromiseSeconds != nil:
		return now.Add(time.Duration(*in.PromiseSeconds) * time.Second)
	}
	return now.Add(d.cfg.DefaultPromise)
}

// PlaceOrder places an order. With an idempotency key (scoped to the caller), the first answer is remembered:
// the same key with the same request (reqHash) gets it again, with another request 422. It returns the order as
// it stood when placed; it is durable and readable when PlaceOrder returns.
func (d *Daemon) PlaceOrder(ctx context.Context, p service.Principal, idemKey string, reqHash []byte, in service.OrderInput) (*service.Order, error) {
	if err := d.checkOrder(&in); err != nil {
		return nil, err
	}
	return run(ctx, d, placeOrder{id: newID("ord_"), by: p, idemKey: idemKey, reqHash: reqHash, in: in})
}

// placeOrder places an order under the id chosen for it, or answers again what an earlier placement with the
// same idempotency key answered.
type placeOrder struct {
	id      string
	by      service.Principal
	idemKey string
	reqHash []byte
	in      service.OrderInput
}

func (c placeOrder) run(d *Daemon, now time.Time) (*service.Order, uint64, error) {
	p, idemKey, reqHash, in := c.by, c.idemKey, c.reqHash, c.in
	k := p.ID + "\x00" + idemKey
	if idemKey != "" {
		if r, ok := d.st.idem[k]; ok {
			if !bytes.Equal(r.Hash, reqHash) {
				return nil, 0, errorf(dispatch.EIdempotencyMismatch, "Idempotency-Key", "this Idempotency-Key was used with a different request")
			}
			return r.Order, r.seq, nil
		}
	}
	rec, err := d.resolve(now, &in)
	if err != nil {
		return nil, 0, err
	}
	if r := d.reach(rec); r != nil && r.Reason != "" {
		return nil, 0, unreachable(r)
	}
	rec.ID = c.id
	if idemKey != "" {
		rec.IdemScope, rec.IdemKey, rec.IdemHash = p.ID, idemKey, reqHash
	}
	o, seq, err := recordAs[*service.Order](d, &record{Type: recOrderPlace, At: now, Order: rec})
	if err != nil {
		return nil, 0, err
	}
	if idemKey != "" {
		d.st.idem[k].seq = seq
	}
	return o, seq, nil
}

// Quote says whether an order could be delivered and when, changing nothing.
func (d *Daemon) Quote(ctx context.Context, in service.OrderInput) (*service.Quote, error) {
	if err := d.checkOrder(&in); err != nil {
		return nil, err
	}
	return run(ctx, d, quote{in})
}

// quote answers whether an order could be delivered and when.
type quote struct{ in service.OrderInput }

func (c quote) run(d *Daemon, now time.Time) (*service.Quote, uint64, error) {
	in := c.in
	rec, err := d.resolve(now, &in)
	if err != nil {
		if de, ok := err.(*dispatch.Error); ok && de.Code == dispatch.EUnservable {
			return &service.Quote{StoreID: in.StoreID, Fulfilment: in.Fulfilment, DeliverBy: d.promiseOf(now, &in),
				Reasons: de.Reasons, Candidates: de.Candidates}, 0, nil
		}
		return nil, 0, err
	}
	qv := &service.Quote{StoreID: rec.StoreID, Region: d.storeRegion(rec.StoreID), Fulfilment: rec.Fulfilment, ReadyAt: timePtr(rec.ReadyAt), DeliverBy: rec.DeliverBy, Reasons: []string{}}
	if rec.Fulfilment == service.FulfilPickup {
		// The customer collects: ready in time is all it takes.
		qv.Feasible, qv.PickupETA = true, timePtr(rec.ReadyAt)
		return qv, 0, nil
	}
	if r := d.reach(rec); r != nil && r.Reason != "" {
		// What POST /v1/orders would refuse: no courier's plan can change that.
		qv.Reasons, qv.Reach = []string{r.Reason}, service.NewReach(r)
		return qv, 0, nil
	}
	q, err := d.eng.Quote(now, dispatch.OrderSpec{StoreID: rec.StoreID, Dropoff: rec.Dropoff.Point(), Created: now,
		Ready: rec.engineReady(), DeliverBy: rec.DeliverBy, PickupBy: rec.PickupBy, Size: rec.Size, Skills: rec.Skills,
		AcceptLate: rec.AcceptLate})
	if err != nil {
		return nil, 0, err
	}
	qv.Feasible = q.Feasible
	qv.PickupETA, qv.DropoffETA = timePtr(q.PickupETA), timePtr(q.DropoffETA)
	for _, r := range q.Reasons {
		qv.Reasons = append(qv.Reasons, string(r))
	}
	return qv, 0, nil
}

// CancelOrder cancels an order that is not picked up yet.
func (d *Daemon) CancelOrder(ctx context.Context, id, reason string) (*service.Order, error) {
	if len(reason) > 500 {
		return nil, errorf(dispatch.EInvalid, "reason", "reason is longer than 500 bytes")
	}
	return run(ctx, d, cancelOrder{id, reason, ""})
}

// cancelOrder cancels an order that is not picked up yet.
type cancelOrder struct{ id, reason, by string }

func (c cancelOrder) run(d *Daemon, now time.Time) (*service.Order, uint64, error) {
	o, ok := d.st.orders.Get(c.id)
	if !ok {
		return nil, 0, errorf(dispatch.ENotFound, "", "order %q not found", c.id)
	}
	// An in-store pick-up order may also be cancelled once ready (the customer never came): its goods go back on
	// the shelf.
	if o.Status != "pending" && o.Status != "assigned" && o.Status != service.StatusReadyForPickup && o.Status != service.StatusScheduled {
		return nil, 0, errorf(dispatch.EConflict, "", "order %s is %s; only scheduled, pending, assigned or ready_for_pickup orders can be cancelled", c.id, o.Status)
	}
	return recordAs[*service.Order](d, &record{Type: recOrderCancel, At: now, ID: c.id, Reason: c.reason, By: c.by})
}

// SetShift puts a courier on or off shift. Going online without a location uses the last reported one if it is
// fresh; otherwise the courier is dispatched from its first location report.
func (d *Daemon) SetShift(ctx context.Context, courierID string, online bool, loc *service.Location, shiftEnd *time.Time) (*service.Courier, error) {
	if loc != nil {
		if err := checkLocation("location", *loc); err != nil {
			return nil, err
		}
	}
	return run(ctx, d, setShift{courierID, online, loc, shiftEnd})
}

// setShift puts a courier on or off shift.
type setShift struct {
	courierID string
	online    bool
	loc       *service.Location
	shiftEnd  *time.Time
}

func (c setShift) run(d *Daemon, now time.Time) (*service.Courier, uint64, error) {
	if c.shiftEnd != nil && !c.shiftEnd.After(now) {
		return nil, 0, errorf(dispatch.EInvalid, "shift_end", "shift_end must be in the future")
	}
	if c.shiftEnd != nil && c.shiftEnd.After(now.Add(timeWindow)) {
		return nil, 0, errorf(dispatch.EInvalid, "shift_end", "shift_end must be within a day from now")
	}
	return recordAs[*service.Courier](d, &record{Type: recShift, At: now, Shift: &shiftRecord{Courier: c.courierID, Online: c.online, Location: newLatLonPtr(c.loc), ShiftEnd: c.shiftEnd}})
}

// ReportLocation takes a courier's position and returns once the loop has applied it (and, for the first position
// of a courier on shift, once that is durable). Positions are journaled lazily (see locationRecord).
func (d *Daemon) ReportLocation(ctx context.Context, courierID string, loc service.Location, at time.Time) error {
	if err := checkLocation("location", loc); err != nil {
		return err
	}
	_, err := run(ctx, d, reportLocation{locationRecord{Courier: courierID, Lat: loc.Lat, Lon: loc.Lon, At: at}})
	return err
}

// reportLocation takes a courier's position.
type reportLocation struct{ l locationRecord }

func (c reportLocation) run(d *Daemon, now time.Time) (struct{}, uint64, error) {
	if _, ok := d.st.aux[c.l.Courier]; !ok {
		return struct{}{}, 0, errorf(dispatch.ENotFound, "", "courier %q not found", c.l.Courier)
	}
	seq, err := d.takePing(now, c.l)
	return struct{}{}, seq, err
}

// QueueLocation hands a courier's position to the loop without waiting: the API's path for the most frequent
// request there is (thousands a second), whose answer says nothing but "received". The courier must exist (the
// API only calls it for the courier a token belongs to). A full queue is ErrOverloaded.
func (d *Daemon) QueueLocation(courierID string, loc service.Location, at time.Time) error {
	if err := checkLocation("location", loc); err != nil {
		return err
	}
	select {
	case <-d.stopped:
		return ErrShutdown
	default:
	}
	if d.standby.Load() {
		return d.errStandby()
	}
	select {
	case d.pings <- locationRecord{Courier: courierID, Lat: loc.Lat, Lon: loc.Lon, At: at}:
		return nil
	default:
		d.obs.Rejected("queue_full")
		return ErrOverloaded
	}
}

// QueueLocations hands many couriers' positions to the loop in one go, without waiting: the path of a gateway
// that relays the fleet's positions (one request per courier per few seconds is the most frequent traffic a
// dispatcher has; a batch costs one queue slot). Every entry is checked first; one bad entry refuses the batch,
// naming it. Unknown couriers are refused too, by index.
func (d *Daemon) QueueLocations(batch []service.LocationUpdate) error {
	if len(batch) == 0 || len(batch) > service.MaxLocationBatch {
		return errorf(dispatch.EInvalid, "locations", "a batch holds 1 to %d locations", service.MaxLocationBatch)
	}
	v := d.View()
	recs := make([]locationRecord, len(batch))
	for i, u := range batch {
		if err := checkLocation(fmt.Sprintf("locations[%d].location", i), u.Location); err != nil {
			return err
		}
		if _, ok := v.Courier(u.CourierID); !ok {
			return errorf(dispatch.EInvalid, fmt.Sprintf("locations[%d].courier_id", i), "courier %q not found", u.CourierID)
		}
		recs[i] = locationRecord{Courier: u.CourierID, Lat: u.Location.Lat, Lon: u.Location.Lon, At: u.At}
	}
	select {
	case <-d.stopped:
		return ErrShutdown
	default:
	}
	if d.standby.Load() {
		return d.errStandby()
	}
	select {
	case d.pingBatches <- recs:
		return nil
	default:
		d.obs.Rejected("queue_full")
		return ErrOverloaded
	}
}

// takePing applies a position on the loop. It returns the sequence number of a record when it wrote one.
func (d *Daemon) takePing(now time.Time, l locationRecord) (uint64, error) {
	aux, ok := d.st.aux[l.Courier]
	if !ok {
		return 0, nil // only reachable for a courier that never existed; nothing to do
	}
	if l.At.IsZero() || l.At.After(now) {
		l.At = now
	}
	l.At = l.At.UTC()
	if aux.OnShift && !aux.InEngine {
		// The first position of a courier on shift puts it on the map: that is a journaled change.
		loc := service.Location{Lat: l.Lat, Lon: l.Lon}
		_, seq, err := d.record(&record{Type: recShift, At: now, Shift: &shiftRecord{Courier: l.Courier, Online: true, Location: newLatLonPtr(&loc), ShiftEnd: shiftEndPtr(aux.ShiftEnd)}})
		if err != nil {
			d.log.Warn().Err(err).Str("courier_id", l.Courier).Msg("first position not taken")
		}
		return seq, err
	}
	if d.moveCourier(now, l) {
		d.st.pendingLocs[l.Courier] = l
		d.st.pendingLocsAt = now
	}
	return 0, nil
}

func shiftEndPtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// CourierAction records a courier's accept, decline, arrived, picked_up, delivered or failed on one of its orders.
// An order that is not the courier's is not found (never forbidden: a courier cannot probe other orders).
func (d *Daemon) CourierAction(ctx context.Context, courierID, orderID, action, reason string) (*service.Order, error) {
	if len(reason) > 500 {
		return nil, errorf(dispatch.EInvalid, "reason", "reason is longer than 500 bytes")
	}
	return run(ctx, d, courierAction{&actionRecord{Courier: courierID, Order: orderID, Action: action, Reason: reason}})
}

// courierAction is a courier's step on one of its orders.
type courierAction struct{ a *actionRecord }

func (c courierAction) run(d *Daemon, now time.Time) (*service.Order, uint64, error) {
	o, ok := d.st.orders.Get(c.a.Order)
	if !ok || o.CourierID != c.a.Courier {
		return nil, 0, errorf(dispatch.ENotFound, "", "order %q not found", c.a.Order)
	}
	return recordAs[*service.Order](d, &record{Type: recAction, At: now, Action: c.a})
}

// checkOrderInput checks an order (or quote) request, filling in the defaults it leaves out (fulfilment, items
// normalised).
func checkOrderInput(in *service.OrderInput) error {
	switch {
	case len(in.ExternalID) > 255:
		return errorf(dispatch.EInvalid, "external_id", "external_id is longer than 255 bytes")
	case in.Items != nil && len(in.Items) == 0:
		return errorf(dispatch.EInvalid, "items", "items must list at least one item (or be left out)")
	case in.StoreID == "" && len(in.Items) == 0:
		return errorf(dispatch.EInvalid, "store_id", "give store_id, or items to choose the store from")
	case in.StoreID != "" && !ValidID(in.StoreID):
		return errorf(dispatch.EInvalid, "store_id", "store_id must match [A-Za-z0-9._:-]{1,64}")
	case in.Fulfilment != "" && in.Fulfilment != service.FulfilDelivery && in.Fulfilment != service.FulfilPickup:
		return errorf(dispatch.EInvalid, "fulfilment", "fulfilment must be delivery or pickup")
	case in.NoDropoff && (in.Fulfilment != service.FulfilPickup || in.StoreID == ""):
		return errorf(dispatch.EInvalid, "dropoff", "dropoff is required (for an in-store pick-up without store_id it chooses the store)")
	case in.PrepSeconds != nil && in.ReadyAt != nil:
		return errorf(dispatch.EInvalid, "ready_at", "give prep_seconds or ready_at, not both")
	case in.PromiseSeconds != nil && in.DeliverBy != nil:
		return errorf(dispatch.EInvalid, "deliver_by", "give promise_seconds or deliver_by, not both")
	case in.PrepSeconds != nil && (*in.PrepSeconds < 0 || *in.PrepSeconds > 86400):
		return errorf(dispatch.EInvalid, "prep_seconds", "prep_seconds must be within [0, 86400]")
	case in.PromiseSeconds != nil && (*in.PromiseSeconds < 60 || *in.PromiseSeconds > 86400):
		return errorf(dispatch.EInvalid, "promise_seconds", "promise_seconds must be within [60, 86400]")
	case in.Size < 0 || in.Size > 1000:
		return errorf(dispatch.EInvalid, "size", "size must be within [1, 1000]")
	}
	for i, sk := range in.Skills {
		if sk == "" || len(sk) > 64 {
			return errorf(dispatch.EInvalid, fmt.Sprintf("skills[%d]", i), "a skill is 1 to 64 bytes")
		}
	}
	if len(in.Customer) > 0 && in.Customer[0] != '{' {
		return errorf(dispatch.EInvalid, "customer", "customer must be an object")
	}
	if len(in.Customer) > service.MaxCustomerBytes {
		return errorf(dispatch.EInvalid, "customer", "customer is %d bytes of JSON; at most %d", len(in.Customer), service.MaxCustomerBytes)
	}
	if in.Fulfilment == "" {
		in.Fulfilment = service.FulfilDelivery
	}
	items, err := fulfil.NormalizeItems(in.Items)
	if err != nil {
		return err
	}
	in.Items = items
	if len(in.Items) == 0 {
		in.Items = nil
	}
	return checkLocation("dropoff", in.Dropoff)
}
