package dispatch

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// randomRoute builds a courier with a random route: some orders on board (drop-offs only), some assigned (pick-up
// and drop-off), in a random precedence-respecting order.
func randomRoute(t *testing.T, rng *rand.Rand, onBoard, assigned int) (*Engine, *courierState) {
	t.Helper()
	e := planarEngine(t, func(c *Config) { c.MaxRide = 3 * time.Hour; c.HardLateness = 3 * time.Hour })
	apply := func(ev Event) {
		if _, err := e.Apply(t0, ev); err != nil {
			t.Fatal(err)
		}
	}
	pt := func() orb.Point { return orb.Point{rng.Float64() * 5000, rng.Float64() * 5000} }
	apply(CourierRegistered{CourierSpec{ID: "c", Vehicle: geo.Bike, Capacity: 10}})
	apply(CourierOnline{CourierID: "c", Location: pt()})
	c := e.couriers["c"]
	var pool []stop
	for i := range onBoard + assigned {
		sid := fmt.Sprintf("s%d", i)
		apply(StoreUpserted{Store{ID: sid, Location: pt()}})
		id := fmt.Sprintf("o%d", i)
		apply(OrderPlaced{OrderSpec{ID: id, StoreID: sid, Dropoff: pt(),
			Ready: t0.Add(time.Duration(rng.IntN(20)) * time.Minute), DeliverBy: t0.Add(time.Duration(20+rng.IntN(60)) * time.Minute)}})
		o := e.orders[id]
		o.courier = c
		if i < onBoard {
			o.status, o.pickedUpAt = StatusPickedUp, t0.UnixNano()
			c.load += o.size
			pool = append(pool, stop{kind: Dropoff, o: o})
		} else {
			o.status = StatusAssigned
			pool = append(pool, stop{kind: Pickup, o: o}, stop{kind: Dropoff, o: o})
		}
	}
	// Random order: shuffle, then move each drop-off after its pick-up.
	rng.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
	for i := range pool {
		if pool[i].kind != Pickup {
			continue
		}
		for j := 0; j < i; j++ {
			if pool[j].o == pool[i].o {
				pool[i], pool[j] = pool[j], pool[i]
			}
		}
	}
	c.stops = pool
	e.retime(c)
	if err := checkInvariants(e); err != nil {
		t.Fatal(err)
	}
	return e, c
}

// bruteBest enumerates every precedence-respecting order of seq[lock:].
func bruteBest(p *planner, start *cursor, seq []seqStop, lock int, pick []int64) float64 {
	best := math.Inf(1)
	cur := append([]seqStop(nil), seq[:lock]...)
	rest := append([]seqStop(nil), seq[lock:]...)
	var rec func(cur, rest []seqStop)
	rec = func(cur, rest []seqStop) {
		if len(rest) == 0 {
			if c, _, ok := p.eval(start, cur, pick, nil, math.Inf(1)); ok && c < best {
				best = c
			}
			return
		}
		for k, s := range rest {
			blocked := false
			if s.kind == Dropoff {
				for _, r := range rest {
					if r.o == s.o && r.kind == Pickup {
						blocked = true
					}
				}
			}
			if blocked {
				continue
			}
			next := append(append([]seqStop(nil), cur...), s)
			others := append(append([]seqStop(nil), rest[:k]...), rest[k+1:]...)
			rec(next, others)
		}
	}
	rec(cur, rest)
	return best
}

func TestResequenceExactMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	improved := 0
	for trial := range 60 {
		e, c := randomRoute(t, rng, rng.IntN(3), 1+rng.IntN(3))
		var bp basePlan
		e.makeBasePlan(c, &bp, nil, nil)
		seq := append([]seqStop(nil), bp.seq...)
		pick := append([]int64(nil), bp.pick...)
		want := bruteBest(&e.plan, &bp.start, seq, bp.lock, pick)
		got := e.plan.resequence(&bp.start, seq, bp.lock, pick, newScratch(e.cfg.MaxRouteStops))
		if math.Abs(got-want) > 1e-6 {
			t.Fatalf("trial %d: exact resequencing found %.3f, brute force %.3f", trial, got, want)
		}
		// The returned order must cost what was claimed and keep the locked prefix.
		check, _, ok := e.plan.eval(&bp.start, seq, pick, nil, math.Inf(1))
		if !ok || math.Abs(check-got) > 1e-6 {
			t.Fatalf("trial %d: resequenced route costs %.3f (ok=%v), claimed %.3f", trial, check, ok, got)
		}
		if seq[0] != bp.seq[0] {
			t.Fatalf("trial %d: the first stop moved", trial)
		}
		if got < bp.cost-1e-6 {
			improved++
		}
	}
	if improved == 0 {
		t.Fatal("no random route was improved: the test does not exercise resequencing")
	}
}

func TestRelocateNeverWorsensAndKeepsPrecedence(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := range 40 {
		e, c := randomRoute(t, rng, rng.IntN(4), 3+rng.IntN(4))
		e.cfg.ExactSequenceStops = 0 // force local search
		var bp basePlan
		e.makeBasePlan(c, &bp, nil, nil)
		seq := append([]seqStop(nil), bp.seq...)
		pick := append([]int64(nil), bp.pick...)
		got := e.plan.resequence(&bp.start, seq, bp.lock, pick, newScratch(e.cfg.MaxRouteStops))
		if got > bp.cost+1e-6 {
			t.Fatalf("trial %d: local search made the route worse: %.3f > %.3f", trial, got, bp.cost)
		}
		seen := map[*orderState]bool{}
		for _, s := range seq {
			if s.kind == Dropoff && s.o.status == StatusAssigned && !seen[s.o] {
				t.Fatalf("trial %d: drop-off of %s before its pick-up", trial, s.o.spec.ID)
			}
			seen[s.o] = true
		}
	}
}
