package dispatch

import (
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// batchProbe is a geo.BatchModel over straight lines that checks the round's promise: every pair the planner asks
// while a batch is in force was handed to the batch (source, target and profile), and, while counting is set, no
// pair is asked of the model itself (direct).
type batchProbe struct {
	geo.TravelModel
	mu       sync.Mutex
	batches  int
	asked    int
	missed   int
	counting bool
	direct   int
}

func (b *batchProbe) TravelTime(from, to orb.Point, p geo.Profile) time.Duration {
	b.mu.Lock()
	if b.counting {
		b.direct++
	}
	b.mu.Unlock()
	return b.TravelModel.TravelTime(from, to, p)
}

type probeBatch struct {
	probe    *batchProbe
	src, dst map[orb.Point]bool
	profiles map[geo.Profile]bool
}

func (b *batchProbe) Batch(sources, targets []orb.Point, profiles []geo.Profile) geo.TravelModel {
	b.mu.Lock()
	b.batches++
	b.mu.Unlock()
	pb := &probeBatch{probe: b, src: map[orb.Point]bool{}, dst: map[orb.Point]bool{}, profiles: map[geo.Profile]bool{}}
	for _, p := range sources {
		pb.src[p] = true
	}
	for _, p := range targets {
		pb.dst[p] = true
	}
	for _, p := range profiles {
		pb.profiles[p] = true
	}
	return pb
}

func (pb *probeBatch) TravelTime(from, to orb.Point, p geo.Profile) time.Duration {
	b := pb.probe
	b.mu.Lock()
	b.asked++
	if !pb.src[from] || !pb.dst[to] || !pb.profiles[p] {
		b.missed++
	}
	b.mu.Unlock()
	return b.TravelModel.TravelTime(from, to, p)
}

func TestRoundAsksTravelTimesInOneBatch(t *testing.T) {
	for _, policy := range []Policy{PolicyOptimize, PolicyNearestIdle} {
		t.Run(policy.String(), func(t *testing.T) {
			plain := benchCity(t, 1000, 300, 3)
			batched := benchCity(t, 1000, 300, 3)
			plain.cfg.Policy, batched.cfg.Policy = policy, policy
			probe := &batchProbe{TravelModel: batched.travel}
			batched.travel, batched.plan.travel = probe, probe

			for i := 1; i <= 3; i++ {
				now := t0.Add(time.Duration(i) * 10 * time.Second)
				want, err := plain.Apply(now, DispatchTick{})
				if err != nil {
					t.Fatal(err)
				}
				probe.counting = true
				got, err := batched.Apply(now, DispatchTick{})
				probe.counting = false
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("round %d: a batched round gave other effects than a pair-by-pair one", i)
				}
				if err := checkInvariants(batched); err != nil {
					t.Fatal(err)
				}
			}
			// One batch plans each round, and re-times the routes of its decision.
			if probe.batches != 3 {
				t.Fatalf("%d batches for 3 rounds, want one a round", probe.batches)
			}
			if probe.direct > 0 {
				t.Fatalf("a round and its decision asked %d pairs one by one, outside any batch", probe.direct)
			}
			if probe.asked == 0 {
				t.Fatal("no travel time asked through the batch")
			}
			if probe.missed > 0 {
				t.Fatalf("the round asked %d pairs outside its batch (of %d asked)", probe.missed, probe.asked)
			}
			// Outside a round the planner asks the model itself.
			if batched.plan.travel != geo.TravelModel(probe) {
				t.Fatal("the round's batch outlived the round")
			}
		})
	}
}

// TestDecisionAppliedElsewhereAsksInBulk plans rounds on a copy and applies their decisions with ApplyDecision, as
// the daemon does: applying re-times the routes through a batch of their places (no pair asked one at a time) and
// gives the effects of the same decisions applied on a model that does not batch.
func TestDecisionAppliedElsewhereAsksInBulk(t *testing.T) {
	plain := benchCity(t, 1000, 300, 4)
	batched := benchCity(t, 1000, 300, 4)
	probe := &batchProbe{TravelModel: batched.travel}
	batched.travel, batched.plan.travel = probe, probe
	for i := 1; i <= 3; i++ {
		now := t0.Add(time.Duration(i) * 10 * time.Second)
		d, err := plain.Planner().Plan(now)
		if err != nil {
			t.Fatal(err)
		}
		want, err := plain.ApplyDecision(now, d)
		if err != nil {
			t.Fatal(err)
		}
		if len(want.Applied.Routes) == 0 {
			t.Fatalf("round %d changed no route: nothing to re-time", i)
		}
		before := probe.batches
		probe.counting = true
		got, err := batched.ApplyDecision(now, d)
		probe.counting = false
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d: the decision applied through a batch gave other results than pair by pair", i)
		}
		if probe.batches != before+1 {
			t.Fatalf("round %d: applying the decision made %d batches, want 1", i, probe.batches-before)
		}
		if probe.direct > 0 || probe.missed > 0 {
			t.Fatalf("round %d: applying the decision asked %d pairs one by one and %d outside its batch", i, probe.direct, probe.missed)
		}
		if err := checkInvariants(batched); err != nil {
			t.Fatal(err)
		}
	}
	if batched.plan.travel != geo.TravelModel(probe) {
		t.Fatal("the decision's batch outlived it")
	}
}
