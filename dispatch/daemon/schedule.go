package daemon

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/daemon/internal/checkpoint"
	"github.com/o2o-dispatch/dispatchd/dispatch/planner"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
	"github.com/o2o-dispatch/dispatchd/geo"
)

// Scheduled orders.
//
// An order whose delivery window starts more than ScheduleConfig.Horizon ahead (its deliver_after, or without one
// its deliver_by) is scheduled: it is accepted and journaled at once like any order (idempotency, stock, cancel),
// but kept out of the engine's live pool, in the daemon's scheduled book (state.book). Off the loop, one plan at a
// time, the planner (dispatch/planner) plans the whole book into tentative routes over the couriers the daemon
// knows; the plan comes back to the loop as a schedule_plan record, so a replay applies it and never plans. At its
// release time the loop moves the order into the engine (a schedule_release record) and proposes the tentative
// route of the orders released together to their courier as a dispatch.Decision, which the engine checks like a
// round's; when it no longer holds, the live rounds plan the orders as any pending order.
//
// No drop-off comes before deliver_after: the engine is given the order with a ready time no earlier than
// deliver_after minus the fastest possible ride from the store (PickupFrom), and every plan's drop-off is at least
// that ride after its pick-up.

// Record types of the scheduled book.
const (
	// recSchedulePlan is a plan of the book, as the planner made it off the loop (Schedule.Plans).
	recSchedulePlan = "schedule_plan"
	// recScheduleRelease hands orders of the book to the engine (Schedule.Release) and proposes their tentative
	// routes (Schedule.Routes, Schedule.Moves) as a decision the engine checks.
	recScheduleRelease = "schedule_release"
)

// ScheduleConfig tunes the scheduled book. Zero fields take the defaults given.
type ScheduleConfig struct {
	// Horizon: an order whose window starts more than this ahead is scheduled. Default 90 min; negative turns the
	// book off (every order goes to the live rounds at once, and deliver_by stays within a day).
	Horizon time.Duration
	// Lead is how long before its tentative pick-up an order is released to the live rounds. Default: the engine's
	// Lookahead (30 min by default), the time before its ready time at which a round first considers an order, so
	// that a released order meets the rounds as an order placed now would, with its courier already proposed.
	Lead time.Duration
	// Replan is the least time between two plans of the book; a plan is made when the book changed since the last.
	// Default 2 min.
	Replan time.Duration
	// MaxAhead bounds how far ahead deliver_by may lie (next-day slots and the like). Default 7 days.
	MaxAhead time.Duration
	// Iterations bounds the planner's search for one plan of the book (deterministic for a given book). Default
	// 2000.
	Iterations int
	// TimeLimit bounds one plan by the daemon's clock as well (a large book then plans fewer iterations, the same
	// book no longer always the same plan). Default 5 s.
	TimeLimit time.Duration
	// MaxVehicles bounds the couriers one plan considers: those nearest the book's stores. Default 200.
	MaxVehicles int
}

func (c ScheduleConfig) withDefaults(eng *dispatch.Config) ScheduleConfig {
	if c.Horizon == 0 {
		c.Horizon = 90 * time.Minute
	}
	if c.Lead <= 0 {
		c.Lead = eng.Lookahead
	}
	if c.Lead <= 0 {
		c.Lead = 30 * time.Minute
	}
	if c.Replan <= 0 {
		c.Replan = 2 * time.Minute
	}
	if c.MaxAhead <= 0 {
		c.MaxAhead = 7 * 24 * time.Hour
	}
	if c.Iterations <= 0 {
		c.Iterations = 2000
	}
	if c.TimeLimit <= 0 {
		c.TimeLimit = 5 * time.Second
	}
	if c.MaxVehicles <= 0 {
		c.MaxVehicles = 200
	}
	return c
}

func (c ScheduleConfig) enabled() bool { return c.Horizon >= 0 }

// booked is an order of the scheduled book. A stored booked is never changed (a change stores a new one), so that a
// plan running off the loop and a checkpoint being written can read the entries they were given.
type booked struct {
	ID, StoreID                                             string
	Dropoff                                                 service.Location
	CreatedAt, ReadyAt, PickupFrom, DeliverAfter, DeliverBy time.Time
	PickupBy                                                time.Time
	Size                                                    int
	Skills                                                  []string
	AcceptLate                                              bool
	ReleaseAt                                               time.Time
	Courier                                                 string
	PickupAt, DropoffAt                                     time.Time
	PickupSeq, DropoffSeq                                   int
	PlannedAt                                               time.Time
	Unplanned                                               string
}

func bookedOf(r *orderRecord) *booked {
	return &booked{ID: r.ID, StoreID: r.StoreID, Dropoff: r.Dropoff.location(), CreatedAt: r.CreatedAt, ReadyAt: r.ReadyAt,
		PickupFrom: r.PickupFrom, DeliverAfter: r.DeliverAfter, DeliverBy: r.DeliverBy, PickupBy: r.PickupBy,
		Size: max(r.Size, 1), Skills: r.Skills, AcceptLate: r.AcceptLate, ReleaseAt: r.ReleaseAt}
}

// earliestPickup is the engine's ready time of the order: the store's, or later so that no drop-off comes before
// deliver_after.
func earliestPickup(ready, pickupFrom time.Time) time.Time {
	if pickupFrom.After(ready) {
		return pickupFrom
	}
	return ready
}

// engineReady is the ready time the engine is given for the order.
func (r *orderRecord) engineReady() time.Time { return earliestPickup(r.ReadyAt, r.PickupFrom) }

// releaseAt is when a booked order goes to the live rounds: Lead before its tentative pick-up; unplanned, Lead
// before the later of its earliest pick-up and deliver_by minus the horizon (the live rounds then have at least
// the horizon to deliver it).
func (c ScheduleConfig) releaseAt(b *booked) time.Time {
	if b.Courier != "" {
		return b.PickupAt.Add(-c.Lead)
	}
	at := earliestPickup(b.ReadyAt, b.PickupFrom)
	if late := b.DeliverBy.Add(-c.Horizon); late.After(at) {
		at = late
	}
	return at.Add(-c.Lead)
}

// checkWindow checks deliver_after against the rest of the order (resolve calls it once deliver_by is known),
// bounds deliver_by, and marks a scheduled order (finishWindow sets its release). It returns when the store's
// preparation may start: now, or for an order scheduled with deliver_after, the horizon before its window.
func (d *Daemon) checkWindow(now time.Time, in *service.OrderInput, rec *orderRecord) (time.Time, error) {
	sc := d.cfg.Schedule.withDefaults(&d.cfg.Engine)
	delivery := in.Fulfilment != service.FulfilPickup
	if in.DeliverAfter != nil {
		after := in.DeliverAfter.UTC()
		switch {
		case !delivery:
			return now, errorf(dispatch.EInvalid, "deliver_after", "deliver_after is for deliveries; an in-store pick-up is ready by deliver_by")
		case !after.After(now):
			return now, errorf(dispatch.EInvalid, "deliver_after", "deliver_after must be in the future")
		}
		if in.DeliverBy == nil && in.PromiseSeconds == nil {
			// A window given by its start alone is as long as the default promise.
			rec.DeliverBy = after.Add(d.cfg.DefaultPromise)
		}
		if !after.Before(rec.DeliverBy) {
			return now, errorf(dispatch.EInvalid, "deliver_after", "deliver_after must be before deliver_by")
		}
		rec.DeliverAfter = after
	}
	limit := timeWindow
	if sc.enabled() && delivery {
		limit = max(limit, sc.MaxAhead)
	}
	if !rec.DeliverAfter.IsZero() && rec.DeliverAfter.After(now.Add(limit)) {
		return now, errorf(dispatch.EInvalid, "deliver_after", "deliver_after must be within %s from now", fmtDays(limit))
	}
	if rec.DeliverBy.After(now.Add(limit)) {
		return now, errorf(dispatch.EInvalid, "deliver_by", "deliver_by must be within %s from now", fmtDays(limit))
	}
	anchor := rec.DeliverBy
	if !rec.DeliverAfter.IsZero() {
		anchor = rec.DeliverAfter
	}
	if !sc.enabled() || !delivery || anchor.Sub(now) <= sc.Horizon {
		return now, nil
	}
	rec.ReleaseAt = now // marks the order scheduled; finishWindow sets the release once the store is chosen
	if rec.DeliverAfter.IsZero() || in.ReadyAt != nil {
		return now, nil
	}
	return later(now, rec.DeliverAfter.Add(-sc.Horizon)), nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func fmtDays(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		if n := d / (24 * time.Hour); n != 1 {
			return fmt.Sprintf("%d days", n)
		}
		return "a day"
	}
	return d.String()
}

// finishWindow completes a placement once its store and ready time are known: the earliest pick-up that keeps the
// drop-off at or after deliver_after, and a scheduled order's release.
func (d *Daemon) finishWindow(now time.Time, rec *orderRecord) error {
	if !rec.DeliverAfter.IsZero() {
		if st, ok := d.st.stores.Get(rec.StoreID); ok {
			r := dispatch.ReachOf(&d.cfg.Engine, d.cfg.Travel, st.Location.Point(), rec.Dropoff.Point(), rec.ReadyAt, rec.DeliverBy, rec.AcceptLate)
			if from := rec.DeliverAfter.Add(-r.Ride); from.After(rec.ReadyAt) {
				rec.PickupFrom = from
			}
		}
		if !rec.PickupBy.IsZero() && rec.engineReady().After(rec.PickupBy) {
			return &dispatch.Error{Code: dispatch.EUnservable, Field: "deliver_after", Reasons: []string{"closed"},
				Message: fmt.Sprintf("store %s closes at %s, before the earliest pick-up (%s) that keeps the drop-off after deliver_after",
					rec.StoreID, rec.PickupBy.Format(time.RFC3339), rec.engineReady().Format(time.RFC3339))}
		}
	}
	if !rec.ReleaseAt.IsZero() {
		rec.ReleaseAt = d.cfg.Schedule.withDefaults(&d.cfg.Engine).releaseAt(bookedOf(rec))
	}
	return nil
}

// scheduleView sets what a placement shows of its window and the book, and reports whether the order is scheduled.
func (d *Daemon) scheduleView(at time.Time, in *orderRecord, v *service.Order) bool {
	if !in.DeliverAfter.IsZero() {
		v.DeliverAfter = timePtr(in.DeliverAfter)
	}
	if in.ReleaseAt.IsZero() || in.Fulfilment == service.FulfilPickup {
		return false
	}
	v.Status = service.StatusScheduled
	v.Timeline = []service.TimelineEntry{{Status: service.StatusScheduled, At: at}}
	v.Schedule = &service.Schedule{ReleaseAt: in.ReleaseAt}
	return true
}

// book puts a placed order into the scheduled book.
func (d *Daemon) book(in *orderRecord) {
	d.st.book[in.ID] = bookedOf(in)
	d.sched.gen++
}

// cancelScheduled cancels an order of the book: it leaves the book (no release will come) and its stock is given
// back.
func (d *Daemon) cancelScheduled(rec *record) (*service.Order, error) {
	s := d.st
	delete(s.book, rec.ID)
	d.sched.gen++
	old, ok := s.orders.Get(rec.ID)
	if !ok {
		return nil, errorf(dispatch.ENotFound, "", "order %q not found", rec.ID)
	}
	v := *old
	v.Status, v.ETA = "cancelled", nil
	v.Timeline = append(slices.Clip(old.Timeline), service.TimelineEntry{Status: "cancelled", At: rec.At, Reason: rec.Reason, By: d.actor})
	d.countStatus(old, &v, rec.At)
	s.orders.Set(v.ID, &v)
	d.noteEvent(service.EventCancelled, rec.ID, rec.At, "", rec.Reason)
	return &v, nil
}

// scheduleRecord is a plan of the book or a release, as the journal keeps it. Times are Unix nanoseconds.
type scheduleRecord struct {
	Plans   []schedulePlanRecord `json:"plans,omitempty"`
	Release []string             `json:"release,omitempty"`
	Routes  []routePlanRecord    `json:"routes,omitempty"`
	Moves   []moveRecord         `json:"moves,omitempty"`
}

// schedulePlanRecord is one order's part of a plan of the book: its tentative courier, hand-overs and the places of
// its stops in that courier's planned route; or why no courier could take it.
type schedulePlanRecord struct {
	Order      string `json:"o"`
	Courier    string `json:"c,omitempty"`
	Pickup     int64  `json:"p,omitempty"`
	Dropoff    int64  `json:"d,omitempty"`
	PickupSeq  int    `json:"ps,omitempty"`
	DropoffSeq int    `json:"ds,omitempty"`
	Unplanned  string `json:"u,omitempty"`
	// Release is the release time this plan gives the order, worked out when the record was made (a replay under
	// other settings releases it as the live daemon did).
	Release int64 `json:"r,omitempty"`
}

// applySchedulePlan takes in a plan of the book: each order still in it gets its tentative courier, times and
// release; order.planned tells order services when the courier changed or the drop-off moved by more than
// Config.ETAChangeThreshold.
func (d *Daemon) applySchedulePlan(rec *record) error {
	s, sc := d.st, d.cfg.Schedule.withDefaults(&d.cfg.Engine)
	for _, p := range rec.Schedule.Plans {
		b, ok := s.book[p.Order]
		if !ok {
			continue
		}
		nb := *b
		nb.Courier, nb.PickupAt, nb.DropoffAt = p.Courier, fromUnixNano(p.Pickup), fromUnixNano(p.Dropoff)
		nb.PickupSeq, nb.DropoffSeq, nb.Unplanned, nb.PlannedAt = p.PickupSeq, p.DropoffSeq, p.Unplanned, rec.At
		if nb.ReleaseAt = fromUnixNano(p.Release); p.Release == 0 {
			nb.ReleaseAt = sc.releaseAt(&nb)
		}
		s.book[p.Order] = &nb
		changed := nb.Courier != b.Courier ||
			(nb.Courier != "" && nb.DropoffAt.Sub(b.DropoffAt).Abs() > d.cfg.ETAChangeThreshold)
		if old, ok := s.orders.Get(p.Order); ok {
			v := *old
			v.Schedule = &service.Schedule{CourierID: nb.Courier, ReleaseAt: nb.ReleaseAt, PlannedAt: timePtr(rec.At), Unplanned: nb.Unplanned}
			v.ETA = nil
			if nb.Courier != "" {
				v.ETA = &service.ETA{PickupAt: timePtr(nb.PickupAt), DropoffAt: timePtr(nb.DropoffAt)}
			}
			s.orders.Set(v.ID, &v)
		}
		if changed {
			d.noteEvent(service.EventPlanned, p.Order, rec.At, b.Courier, nb.Unplanned)
		}
	}
	return nil
}

// applyRelease hands orders of the book to the engine, each with the ready time that keeps its drop-off at or
// after deliver_after, then applies what holds of the proposed routes like a round's decision.
func (d *Daemon) applyRelease(rec *record) error {
	s, sr := d.st, rec.Schedule
	for _, id := range sr.Release {
		b, ok := s.book[id]
		if !ok {
			continue
		}
		spec := dispatch.OrderSpec{ID: b.ID, StoreID: b.StoreID, Dropoff: b.Dropoff.Point(), Created: b.CreatedAt,
			Ready: earliestPickup(b.ReadyAt, b.PickupFrom), DeliverBy: b.DeliverBy, PickupBy: b.PickupBy, Size: b.Size,
			Skills: b.Skills, AcceptLate: b.AcceptLate}
		if err := d.applyEngine(rec.At, dispatch.OrderPlaced{Order: spec}); err != nil {
			return err
		}
		delete(s.book, id)
		old, ok := s.orders.Get(id)
		if !ok {
			continue
		}
		v := *old
		v.Status, v.ETA = "pending", nil
		v.Timeline = append(slices.Clip(old.Timeline), service.TimelineEntry{Status: "pending", At: rec.At, Reason: "released"})
		sv := service.Schedule{ReleaseAt: rec.At}
		if old.Schedule != nil {
			sv = *old.Schedule
		}
		sv.ReleasedAt = timePtr(rec.At)
		v.Schedule = &sv
		d.countStatus(old, &v, rec.At)
		s.orders.Set(id, &v)
		d.noteEvent(service.EventReleased, id, rec.At, "", "")
	}
	if len(sr.Routes) == 0 {
		return nil
	}
	dec := &dispatch.Decision{At: rec.At, Routes: routePlans(sr.Routes), Stats: d.eng.LastRound()}
	for _, m := range sr.Moves {
		dec.Moves = append(dec.Moves, dispatch.Move{OrderID: m.Order, From: m.From, To: m.To})
	}
	res, err := d.eng.ApplyDecision(rec.At, dec)
	if err != nil {
		// Malformed against this engine (a courier it does not know): the orders wait for a round.
		d.log.Warn().Err(err).Msg("the tentative routes of released orders were not applied")
		return nil
	}
	d.absorb(rec.At, res.Effects)
	return nil
}

// releaseDue writes the release of every order of the book whose release time has come, together with the orders
// of the same trips of its tentative route (a trip runs from a pick-up with nothing on board to the next drop-off
// that empties the courier: its orders are one bundle), with each courier's released stops proposed, in the
// planned order, after the stops it has now. It returns the record's sequence number (0: nothing was due).
func (d *Daemon) releaseDue(now time.Time) (uint64, error) {
	due := d.dueTrips(now)
	if len(due) == 0 {
		return 0, nil
	}
	slices.SortFunc(due, func(a, b *booked) int {
		return cmp.Or(a.ReleaseAt.Compare(b.ReleaseAt), strings.Compare(a.ID, b.ID))
	})
	sr := &scheduleRecord{}
	byCourier := map[string][]*booked{}
	for _, b := range due {
		sr.Release = append(sr.Release, b.ID)
		if b.Courier != "" {
			byCourier[b.Courier] = append(byCourier[b.Courier], b)
		}
	}
	for _, cid := range slices.Sorted(maps.Keys(byCourier)) {
		c, ok := d.eng.Courier(cid)
		if !ok || !c.Online {
			continue // the live rounds plan its orders
		}
		r, _ := d.eng.Route(cid)
		rp := routePlanRecord{Courier: cid, Version: r.Version}
		for _, st := range r.Stops {
			rp.Stops = append(rp.Stops, plannedStopRecord{Order: st.OrderID, Dropoff: st.Kind == dispatch.Dropoff})
		}
		type seqStop struct {
			seq  int
			id   string
			drop bool
		}
		var stops []seqStop
		for _, b := range byCourier[cid] {
			stops = append(stops, seqStop{b.PickupSeq, b.ID, false}, seqStop{b.DropoffSeq, b.ID, true})
			sr.Moves = append(sr.Moves, moveRecord{Order: b.ID, To: cid})
		}
		slices.SortFunc(stops, func(a, b seqStop) int { return cmp.Compare(a.seq, b.seq) })
		for _, st := range stops {
			rp.Stops = append(rp.Stops, plannedStopRecord{Order: st.id, Dropoff: st.drop})
		}
		sr.Routes = append(sr.Routes, rp)
	}
	_, seq, err := d.record(&record{Type: recScheduleRelease, At: now, Schedule: sr})
	if err != nil {
		d.log.Error().Err(err).Int("orders", len(sr.Release)).Msg("release of scheduled orders failed")
	}
	return seq, err
}

// dueTrips lists the orders of the book to release at now: those due, and the orders sharing a trip with one of
// them in their courier's tentative route.
func (d *Daemon) dueTrips(now time.Time) []*booked {
	release := map[string]bool{}
	byCourier := map[string][]*booked{}
	for id, b := range d.st.book {
		if !b.ReleaseAt.After(now) {
			release[id] = true
		}
		if b.Courier != "" {
			byCourier[b.Courier] = append(byCourier[b.Courier], b)
		}
	}
	if len(release) == 0 {
		return nil
	}
	type stop struct {
		seq  int
		id   string
		drop bool
	}
	for _, orders := range byCourier {
		var stops []stop
		for _, b := range orders {
			stops = append(stops, stop{b.PickupSeq, b.ID, false}, stop{b.DropoffSeq, b.ID, true})
		}
		slices.SortFunc(stops, func(a, b stop) int { return cmp.Or(cmp.Compare(a.seq, b.seq), strings.Compare(a.id, b.id)) })
		var trip []string
		onBoard, hasDue := 0, false
		for _, s := range stops {
			if s.drop {
				onBoard--
			} else {
				onBoard++
				trip = append(trip, s.id)
				hasDue = hasDue || release[s.id]
			}
			if onBoard <= 0 {
				for _, id := range trip {
					if hasDue {
						release[id] = true
					}
				}
				trip, onBoard, hasDue = trip[:0], 0, false
			}
		}
	}
	var due []*booked
	for id, r := range release {
		if r {
			due = append(due, d.st.book[id])
		}
	}
	return due
}

// scheduler runs the plans of the book off the loop, one at a time. Its goroutine is owned by the loop: stop
// cancels it and waits for it.
type scheduler struct {
	done     chan scheduleResult
	planning bool
	cancel   context.CancelFunc
	// gen counts changes of the book; plannedGen is the gen the last applied plan was made from (a start plans
	// again: it begins unequal).
	gen, plannedGen uint64
	lastPlan        time.Time
	// hold, when set, runs on the plan's goroutine before it plans (tests hold a plan open with it).
	hold func(context.Context)
}

func newScheduler() scheduler {
	return scheduler{done: make(chan scheduleResult, 1), plannedGen: math.MaxUint64}
}

// stop cancels a plan in progress and waits for its goroutine; its result is dropped.
func (s *scheduler) stop() {
	if !s.planning {
		return
	}
	s.cancel()
	<-s.done
	s.planning = false
}

// scheduleResult is a plan of the book made off the loop.
type scheduleResult struct {
	gen   uint64
	plans []schedulePlanRecord
	err   error
}

// scheduleTick releases what is due and starts a plan of the book when it changed since the last plan and the
// last began at least Replan ago.
func (d *Daemon) scheduleTick() {
	if d.jnl().Err() != nil {
		return
	}
	now := d.now()
	d.releaseDue(now)
	sc := d.cfg.Schedule.withDefaults(&d.cfg.Engine)
	if d.sched.planning || len(d.st.book) == 0 || d.sched.gen == d.sched.plannedGen || now.Sub(d.sched.lastPlan) < sc.Replan {
		return
	}
	job := d.scheduleJob(now)
	ctx, cancel := context.WithCancel(context.Background())
	d.sched.planning, d.sched.cancel, d.sched.lastPlan = true, cancel, now
	hold := d.sched.hold
	go func() {
		if hold != nil {
			hold(ctx)
		}
		d.sched.done <- job.solve(ctx)
	}()
}

// scheduleReturned journals and applies a plan of the book made off the loop, for the orders still in it.
func (d *Daemon) scheduleReturned(res scheduleResult) {
	d.sched.planning = false
	d.sched.cancel()
	if res.err != nil {
		d.log.Error().Err(res.err).Msg("plan of the scheduled book failed")
		return
	}
	if _, err := d.recordPlan(d.now(), res); err != nil {
		d.log.Error().Err(err).Msg("plan of the scheduled book not applied")
	}
}

func (d *Daemon) recordPlan(now time.Time, res scheduleResult) (uint64, error) {
	d.sched.plannedGen = res.gen
	sc := d.cfg.Schedule.withDefaults(&d.cfg.Engine)
	var plans []schedulePlanRecord
	for _, p := range res.plans {
		if b, ok := d.st.book[p.Order]; ok {
			nb := *b
			nb.Courier, nb.PickupAt = p.Courier, fromUnixNano(p.Pickup)
			p.Release = unixNano(sc.releaseAt(&nb))
			plans = append(plans, p)
		}
	}
	if len(plans) == 0 {
		return 0, nil
	}
	_, seq, err := d.record(&record{Type: recSchedulePlan, At: now, Schedule: &scheduleRecord{Plans: plans}})
	if err != nil {
		return 0, err
	}
	// A plan may bring a pick-up within the lead (an order promised hours ahead, and a courier free now): it goes
	// to the live rounds at once.
	if s, err := d.releaseDue(now); err != nil || s > 0 {
		return s, err
	}
	return seq, nil
}

// PlanScheduleNow releases the scheduled orders that are due and plans the rest of the book at once, on the loop,
// which waits for the plan (up to ScheduleConfig.TimeLimit): for tests and operators. Otherwise this happens at
// the dispatch ticks, the plan off the loop.
func (d *Daemon) PlanScheduleNow(ctx context.Context) error {
	_, err := run(ctx, d, planScheduleNow{})
	return err
}

type planScheduleNow struct{}

func (planScheduleNow) run(d *Daemon, now time.Time) (struct{}, uint64, error) {
	seq, err := d.releaseDue(now)
	if err != nil || len(d.st.book) == 0 {
		return struct{}{}, seq, err
	}
	res := d.scheduleJob(now).solve(context.Background())
	if res.err != nil {
		return struct{}{}, seq, res.err
	}
	if s, err := d.recordPlan(now, res); err != nil || s > 0 {
		return struct{}{}, s, err
	}
	return struct{}{}, seq, nil
}

// scheduleJob is what a plan of the book reads, copied on the loop: the book's entries (never changed once
// stored), the couriers with a known position and the stores' places and regions.
type scheduleJob struct {
	at       time.Time
	gen      uint64
	orders   []*booked
	couriers []jobCourier
	stores   map[string]orb.Point
	// regions gives each store of the book its region: a courier is planned only with orders of its own.
	regions map[string]string
	cfg     ScheduleConfig
	engine  dispatch.Config
	travel  geo.TravelModel
	clock   func() time.Time
}

type jobCourier struct {
	id       string
	at       orb.Point
	capacity int
	skills   []string
	shiftEnd time.Time
	region   string
}

func (d *Daemon) scheduleJob(now time.Time) *scheduleJob {
	s := d.st
	job := &scheduleJob{at: now, gen: d.sched.gen, stores: map[string]orb.Point{}, regions: map[string]string{},
		cfg: d.cfg.Schedule.withDefaults(&d.cfg.Engine), engine: d.cfg.Engine, travel: d.cfg.Travel, clock: d.clock}
	for _, id := range slices.Sorted(maps.Keys(s.book)) {
		b := s.book[id]
		job.orders = append(job.orders, b)
		if st, ok := s.stores.Get(b.StoreID); ok {
			job.stores[b.StoreID] = st.Location.Point()
			job.regions[b.StoreID] = st.Region
		}
	}
	for _, id := range slices.Sorted(maps.Keys(s.aux)) {
		aux := s.aux[id]
		v, ok := s.couriers.Get(id)
		if !ok || aux.Location == nil {
			continue
		}
		c := jobCourier{id: id, at: aux.Location.Point(), capacity: v.Capacity, skills: v.Skills, region: v.Region}
		if aux.OnShift && !aux.ShiftEnd.IsZero() {
			if !aux.ShiftEnd.After(now) {
				continue // its shift is over
			}
			c.shiftEnd = aux.ShiftEnd
		}
		job.couriers = append(job.couriers, c)
	}
	return job
}

// solve plans the book region by region (a courier only carries orders of its own region), each region with
// its share of the time limit, and returns every region's plans together, by order id.
func (job *scheduleJob) solve(ctx context.Context) scheduleResult {
	res := scheduleResult{gen: job.gen}
	parts := map[string]*scheduleJob{}
	var names []string
	for _, b := range job.orders {
		r := job.regions[b.StoreID] // "" for a store that is gone: planned with no courier
		p, ok := parts[r]
		if !ok {
			cp := *job
			cp.orders, cp.couriers = nil, nil
			p = &cp
			parts[r] = p
			names = append(names, r)
		}
		p.orders = append(p.orders, b)
	}
	for _, c := range job.couriers {
		if p, ok := parts[c.region]; ok {
			p.couriers = append(p.couriers, c)
		}
	}
	slices.Sort(names)
	for _, r := range names {
		p := parts[r]
		p.cfg.TimeLimit = job.cfg.TimeLimit / time.Duration(len(names))
		sub := p.solveRegion(ctx)
		if sub.err != nil {
			res.err = sub.err
			return res
		}
		res.plans = append(res.plans, sub.plans...)
	}
	slices.SortFunc(res.plans, func(a, b schedulePlanRecord) int { return strings.Compare(a.Order, b.Order) })
	return res
}

// nearestVehicles keeps, of more couriers than a plan considers (ScheduleConfig.MaxVehicles), those nearest the
// book's stores (ties by id: the list is sorted by id and the sort is stable).
func (job *scheduleJob) nearestVehicles() {
	if len(job.couriers) > job.cfg.MaxVehicles {
		// The nearest to the book's stores (ties by id: the list is sorted by id and the sort is stable).
		near := func(p orb.Point) float64 {
			best := math.Inf(1)
			for _, sp := range job.stores {
				best = min(best, geo.Geographic.Distance(p, sp))
			}
			return best
		}
		dist := make(map[string]float64, len(job.couriers))
		for _, c := range job.couriers {
			dist[c.id] = near(c.at)
		}
		slices.SortStableFunc(job.couriers, func(a, b jobCourier) int { return cmp.Compare(dist[a.id], dist[b.id]) })
		job.couriers = job.couriers[:job.cfg.MaxVehicles]
	}
}

// Why a plan left an order without a courier, besides the planner's reasons.
const (
	unplannedNoCourier  = "no_courier"
	unplannedWindowGone = "window_passed"
)

// solveRegion plans one region's part of the book with dispatch/planner (off the loop: it reads only the job).
// Times are seconds from the job's time; every courier starts where it was last seen and ends anywhere (a place
// at no distance from all others), by its shift's end when one is known; travel is the engine's travel model for
// its bundle vehicle.
func (job *scheduleJob) solveRegion(ctx context.Context) scheduleResult {
	res := scheduleResult{gen: job.gen}
	job.nearestVehicles()
	sec := func(t time.Time) float64 { return max(t.Sub(job.at).Seconds(), 0) }
	var points []orb.Point
	for _, c := range job.couriers {
		points = append(points, c.at)
	}
	req := &planner.Request{}
	var planned []*booked
	for _, b := range job.orders {
		sp, ok := job.stores[b.StoreID]
		if len(job.couriers) == 0 || !ok {
			res.plans = append(res.plans, schedulePlanRecord{Order: b.ID, Unplanned: unplannedNoCourier})
			continue
		}
		pick := planner.Task{Place: len(points), Service: job.engine.PickupService.Seconds(), Earliest: sec(earliestPickup(b.ReadyAt, b.PickupFrom))}
		drop := planner.Task{Place: len(points) + 1, Service: job.engine.DropoffService.Seconds(), Earliest: sec(b.DeliverAfter), Latest: sec(b.DeliverBy)}
		if !b.PickupBy.IsZero() {
			pick.Latest = sec(b.PickupBy)
		}
		if drop.Latest <= drop.Earliest || (!b.PickupBy.IsZero() && (pick.Latest <= 0 || pick.Latest < pick.Earliest)) {
			res.plans = append(res.plans, schedulePlanRecord{Order: b.ID, Unplanned: unplannedWindowGone})
			continue
		}
		points = append(points, sp, b.Dropoff.Point())
		req.Shipments = append(req.Shipments, planner.Shipment{ID: b.ID, Pickup: pick, Delivery: drop, Amount: []int64{int64(b.Size)}, Skills: b.Skills})
		planned = append(planned, b)
	}
	if len(planned) == 0 {
		return res
	}
	end := len(points)
	m := planner.ModelMatrix(job.travel, points, job.engine.BundleProfile)
	n := end + 1
	dur := make([]float64, n*n)
	for i := range end {
		copy(dur[i*n:i*n+end], m.Durations[i*end:(i+1)*end])
	}
	req.Matrix = &planner.Matrix{N: n, Durations: dur}
	for i, c := range job.couriers {
		v := planner.Vehicle{ID: c.id, Start: i, End: end, Capacity: []int64{int64(c.capacity)}, Skills: c.skills}
		if !c.shiftEnd.IsZero() {
			v.ShiftEnd = sec(c.shiftEnd)
		}
		req.Vehicles = append(req.Vehicles, v)
	}
	opts := planner.Options{Seed: 1, Workers: 1, Iterations: job.cfg.Iterations}
	if job.clock != nil {
		opts.TimeLimit, opts.Now = job.cfg.TimeLimit, job.clock
	}
	plan, err := planner.Solve(ctx, req, opts)
	if err != nil {
		res.err = err
		return res
	}
	at := func(s float64) int64 { return job.at.Add(time.Duration(s * float64(time.Second))).UnixNano() }
	byOrder := map[string]schedulePlanRecord{}
	for _, r := range plan.Routes {
		for k, st := range r.Stops {
			p := byOrder[st.Shipment]
			p.Order, p.Courier = st.Shipment, r.Vehicle
			switch st.Kind {
			case planner.StopPickup:
				p.Pickup, p.PickupSeq = at(st.Start+job.engine.PickupService.Seconds()/2), k
			case planner.StopDelivery:
				p.Dropoff, p.DropoffSeq = at(st.Start+job.engine.DropoffService.Seconds()/2), k
			default:
				continue
			}
			byOrder[st.Shipment] = p
		}
	}
	for _, u := range plan.Unassigned {
		byOrder[u.Shipment] = schedulePlanRecord{Order: u.Shipment, Unplanned: string(u.Reason)}
	}
	for _, b := range planned {
		res.plans = append(res.plans, byOrder[b.ID])
	}
	slices.SortFunc(res.plans, func(a, b schedulePlanRecord) int { return strings.Compare(a.Order, b.Order) })
	return res
}

// bookEntries lists the book by order id.
func bookEntries(book map[string]*booked) []*booked {
	out := make([]*booked, 0, len(book))
	for _, id := range slices.Sorted(maps.Keys(book)) {
		out = append(out, book[id])
	}
	return out
}

func ckptBooked(b *booked) *checkpoint.Scheduled {
	return &checkpoint.Scheduled{OrderID: b.ID, StoreID: b.StoreID, Dropoff: *ckptLocation(&b.Dropoff), CreatedAt: b.CreatedAt,
		ReadyAt: b.ReadyAt, PickupFrom: b.PickupFrom, DeliverAfter: b.DeliverAfter, DeliverBy: b.DeliverBy,
		PickupBy: b.PickupBy, Size: b.Size, Skills: b.Skills, AcceptLate: b.AcceptLate, ReleaseAt: b.ReleaseAt,
		Courier: b.Courier, PickupAt: b.PickupAt, DropoffAt: b.DropoffAt, PickupSeq: b.PickupSeq,
		DropoffSeq: b.DropoffSeq, PlannedAt: b.PlannedAt, Unplanned: b.Unplanned}
}

func bookedOfCkpt(r *checkpoint.Scheduled) *booked {
	return &booked{ID: r.OrderID, StoreID: r.StoreID, Dropoff: *viewLocation(&r.Dropoff), CreatedAt: r.CreatedAt,
		ReadyAt: r.ReadyAt, PickupFrom: r.PickupFrom, DeliverAfter: r.DeliverAfter, DeliverBy: r.DeliverBy,
		PickupBy: r.PickupBy, Size: r.Size, Skills: r.Skills, AcceptLate: r.AcceptLate, ReleaseAt: r.ReleaseAt,
		Courier: r.Courier, PickupAt: r.PickupAt, DropoffAt: r.DropoffAt, PickupSeq: r.PickupSeq,
		DropoffSeq: r.DropoffSeq, PlannedAt: r.PlannedAt, Unplanned: r.Unplanned}
}

func ckptOrderSchedule(v *service.Schedule) *checkpoint.OrderSchedule {
	if v == nil {
		return nil
	}
	return &checkpoint.OrderSchedule{CourierID: v.CourierID, ReleaseAt: v.ReleaseAt, PlannedAt: v.PlannedAt,
		ReleasedAt: v.ReleasedAt, Unplanned: v.Unplanned}
}

func orderScheduleView(r *checkpoint.OrderSchedule) *service.Schedule {
	if r == nil {
		return nil
	}
	return &service.Schedule{CourierID: r.CourierID, ReleaseAt: r.ReleaseAt, PlannedAt: r.PlannedAt,
		ReleasedAt: r.ReleasedAt, Unplanned: r.Unplanned}
}

// scheduledError is the conflict of a step the engine cannot take on an order of the book (nil for another order):
// until its release no courier or dispatcher acts on it, only a cancel.
func (d *Daemon) scheduledError(id string) error {
	b, ok := d.st.book[id]
	if !ok {
		return nil
	}
	return errorf(dispatch.EConflict, "", "order %s is scheduled: it goes to the live rounds at %s; until then it can only be cancelled",
		id, b.ReleaseAt.Format(time.RFC3339))
}
