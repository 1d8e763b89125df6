package daemon

import (
	"maps"
	"slices"
	"time"
)

// Taking the engine back from a dispatch round or a checkpoint's export is done by the loop in steps, each of a
// bounded amount of work, with the requests that arrived meanwhile served between them. A round over a backlog
// returns tens of thousands of effects: taken in at once, they held every placement for 30 to 230 ms, the largest
// part of the order intake's tail latency under load.
//
// Between steps the loop behaves as while the round ran (roundRunning stays set until the engine has caught up with
// the placements that waited): placements are accepted and their engine events wait in deferredEngine, positions
// are held, their events are held, and the requests that need the engine wait in deferredReqs, in order. So the
// journal order is the order in which the engine sees things, and a replay (which runs the round inline) reaches the
// same state. Readers may see a round's result appear over a few steps; each courier's route is whole in every
// snapshot, and nothing a snapshot shows is taken back by the next.

// stepSizes bounds the number of items of one step, per phase (stepTime bounds its time). Tests make them tiny so
// that requests fall between the steps of every phase.
type stepSizes struct {
	effects  int // effects of a round taken in
	retimes  int // couriers whose re-timed route is taken in
	events   int // order events made
	placed   int // placements that waited for the engine, applied
	locs     int // positions that waited for the engine, applied
	requests int // requests that waited for the engine, served
}

func (s stepSizes) withDefaults() stepSizes {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&s.effects, 256)
	def(&s.retimes, 64)
	def(&s.events, 512)
	def(&s.placed, 256)
	def(&s.locs, 512)
	def(&s.requests, 16)
	return s
}

// returnPhase is where a return of the engine stands.
type returnPhase int

const (
	phaseAbsorb    returnPhase = iota // the round's effects
	phaseRetime                       // every route the round re-timed
	phaseEvents                       // the order events the round made
	phaseETAs                         // order.eta_changed for the drop-offs the round moved
	phaseHeld                         // the events of records accepted while the round ran
	phasePlaced                       // the placements accepted while the engine was away
	phasePositions                    // the positions held meanwhile
	phaseRequests                     // the requests that waited
)

// engineReturn is a return of the engine in progress (Daemon.ret).
type engineReturn struct {
	round *roundResult // nil after an export
	phase returnPhase
	next  int
	// retime lists the couriers whose routes the round re-timed, sorted (live and replay must agree on the order).
	retime []string
	// The round's noted events and touched ETAs, kept apart from those of the records accepted between steps
	// (theirs are finished per record and held; the round's come first).
	noted      []pendingEvent
	etaTouched map[string]bool
	assigned   map[string]bool
	etaIDs     []string
	held       []OrderEvent
	heldLocs   []locationRecord
	checkpoint bool
}

// roundReturned starts taking in a round's result.
func (d *Daemon) roundReturned(res roundResult) {
	d.ret = &engineReturn{round: &res}
	if res.err != nil {
		d.log.Error().Err(res.err).Msg("dispatch round failed")
		d.ret.phase = phaseEvents
	}
}

// exportReturned starts taking the engine back from a checkpoint's export.
func (d *Daemon) exportReturned() {
	d.exporting = false
	d.ret = &engineReturn{phase: phaseHeld}
}

// stepTime is the loop time a step aims at: a step ends after its count of items or once it has run this long,
// whichever comes first. (A count alone does not bound the time: an effect may touch one order or re-plan a route,
// and the loop may be descheduled in the middle of a step.)
const stepTime = time.Millisecond

// stepItems does items r.next, r.next+1, ... of a phase of n items, until the step's count or time is used up,
// and reports whether the phase is done.
func (d *Daemon) stepItems(r *engineReturn, n, count int, item func(i int)) bool {
	began, end := d.clock(), min(r.next+count, n)
	for done := 1; r.next < end; done++ {
		item(r.next)
		r.next++
		if done%8 == 0 && d.clock().Sub(began) >= stepTime {
			break
		}
	}
	return r.next == n
}

// returnStep does one step of the return in progress; the return is over when d.ret is nil again.
func (d *Daemon) returnStep() {
	r := d.ret
	switch r.phase {
	case phaseAbsorb:
		fx := r.round.fx
		done := d.stepItems(r, len(fx), d.steps.effects, func(i int) { d.absorb(r.round.at, fx[i:i+1]) })
		r.keepRoundEvents(d)
		if done {
			r.phase, r.next = phaseRetime, 0
			r.retime = d.retimedRoutes()
		}
	case phaseRetime:
		done := d.stepItems(r, len(r.retime), d.steps.retimes, func(i int) { d.retimeRoute(r.retime[i]) })
		r.keepRoundEvents(d)
		if done {
			r.phase, r.next = phaseEvents, 0
		}
	case phaseEvents:
		// The round's events are numbered before those of the records accepted while it ran, as in a replay.
		if d.stepItems(r, len(r.noted), d.steps.events, func(i int) { d.emitNoted(r.noted[i:i+1], &r.assigned, false) }) {
			r.phase, r.next = phaseETAs, 0
			r.etaIDs = slices.Sorted(maps.Keys(r.etaTouched))
		}
	case phaseETAs:
		if d.stepItems(r, len(r.etaIDs), d.steps.events, func(i int) {
			d.emitETAChanges(r.round.at, r.etaIDs[i:i+1], r.assigned, false)
		}) {
			res := r.round
			d.lastStats = res.stats
			d.obs.DispatchRound(res.took, res.stats.Candidates, res.stats.Assigned)
			d.roundWork += res.took
			r.checkpoint = d.sinceCkpt >= d.cfg.CheckpointRecords || d.roundWork >= d.cfg.CheckpointRoundWork
			r.phase, r.next = phaseHeld, 0
		}
	case phaseHeld:
		// The events held so far: those of the records accepted while the engine was away, in order. Records
		// accepted from here on hold theirs too (roundRunning is still set); they are numbered after the
		// placements' engine effects, at the end of phasePlaced, as their records follow in the journal.
		if r.next == 0 {
			r.held, d.heldEvents = d.heldEvents, nil
		}
		if d.stepItems(r, len(r.held), d.steps.events, func(i int) { d.numberEvent(r.held[i]) }) {
			r.held = nil
			r.phase, r.next = phasePlaced, 0
		}
	case phasePlaced:
		// Placements accepted between steps join the end of deferredEngine, so they reach the engine in journal
		// order; the phase ends when the engine has caught up.
		done := d.stepItems(r, len(d.deferredEngine), d.steps.placed, func(i int) {
			de := d.deferredEngine[i]
			if err := d.applyEngine(de.at, de.ev); err != nil {
				// The daemon validated it against the same state; the engine refusing it is a bug to look at.
				d.log.Error().Err(err).Str("event", de.ev.EventName()).Msg("engine refused an accepted change")
			}
		})
		d.finishEvents(d.lastNow, false)
		if !done {
			break
		}
		clear(d.deferredEngine)
		d.deferredEngine = d.deferredEngine[:0]
		// The engine is the loop's again: what arrives from here on goes to it directly, except the requests,
		// which keep their turn behind those that waited.
		d.roundRunning = false
		d.releaseHeld()
		r.heldLocs = sortedLocations(d.heldLocs)
		clear(d.heldLocs)
		r.phase, r.next = phasePositions, 0
	case phasePositions:
		now := d.now()
		if !d.stepItems(r, len(r.heldLocs), d.steps.locs, func(i int) { d.takePing(now, r.heldLocs[i]) }) {
			break
		}
		r.heldLocs = nil
		r.phase, r.next = phaseRequests, 0
		// The checkpoint goes before the requests that waited: one of them may start the next round, and a
		// checkpoint must never read the engine while a round has it. Its export lends the engine out again: the
		// requests then wait for that return, which serves them.
		if r.checkpoint {
			d.checkpoint(false)
			if d.roundRunning {
				d.ret = nil
				return
			}
		}
	case phaseRequests:
		// Requests that arrive meanwhile join the end of deferredReqs (handle), so they are served in order.
		began := d.clock()
		for n := 1; len(d.deferredReqs) > 0 && n <= d.steps.requests; n++ {
			req := d.deferredReqs[0]
			d.deferredReqs[0] = request{}
			d.deferredReqs = d.deferredReqs[1:]
			d.serve(req)
			if d.roundRunning {
				// The request lent the engine out (a checkpoint's export): the rest wait for its return.
				d.ret = nil
				return
			}
			if d.clock().Sub(began) >= stepTime {
				break
			}
		}
		if len(d.deferredReqs) == 0 {
			d.deferredReqs = nil
			d.ret = nil
		}
	}
}

// keepRoundEvents moves the events and ETA changes a step of the round noted aside, so that the records accepted
// before the next step finish only their own.
func (r *engineReturn) keepRoundEvents(d *Daemon) {
	r.noted = append(r.noted, d.pendingEvents...)
	d.pendingEvents = d.pendingEvents[:0]
	if len(d.etaTouched) > 0 {
		if r.etaTouched == nil {
			r.etaTouched = map[string]bool{}
		}
		for id := range d.etaTouched {
			r.etaTouched[id] = true
		}
		clear(d.etaTouched)
	}
}

// finishReturn does every step left of a return (shutdown).
func (d *Daemon) finishReturn() {
	for d.ret != nil {
		d.returnStep()
	}
}
