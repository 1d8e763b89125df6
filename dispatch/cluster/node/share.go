package node

import (
	"slices"
	"time"
)

// snapshot is what a node last read of the cluster: who holds each region's lease, and which nodes are alive.
type snapshot struct {
	at time.Time
	// owners is region → the node holding its lease (regions nobody holds are missing).
	owners map[string]string
	// epochs and expires are the leases' epochs and expiries (for Status), by region.
	epochs  map[string]uint64
	expires map[string]time.Time
	// members are the nodes alive (in the registry), by id, draining ones included.
	members []Member
}

// share is the rule by which the nodes share the regions out, each node deciding alone from the same snapshot:
// with R regions and N nodes taking regions (alive, not draining), every node aims at between lo = R/N and
// hi = ceil(R/N) regions.
//
//   - A free region is taken at once by a node under lo, and by a node under hi after a grace (so that a node
//     that just joined, which is under lo, gets it first); a region free for longer than the failsafe is taken
//     by any node that takes regions at all, whatever it holds: availability comes before balance.
//   - A node over hi gives one region away; so does a node over lo while another is under lo, if it is the
//     node holding the most (the lowest id among equals). Nobody gives while a region is free, so that one
//     region moves at a time.
type share struct {
	regions []string
	self    string
}

// counts is how many regions each node taking regions holds; n is how many such nodes there are (self counted
// even when the registry does not list it yet, unless it drains). A node takes regions when it is listed, not
// draining, not silent (dead: its lease runs out about when its entry falls silent) and not catching up (a node
// just started gets its share once it can serve it).
func (s share) counts(snap *snapshot, draining bool) (counts map[string]int, n int) {
	counts = map[string]int{}
	for _, m := range snap.members {
		if m.ID != s.self && !m.Draining && !m.Silent && !m.CatchingUp {
			counts[m.ID] = 0
		}
	}
	if !draining {
		counts[s.self] = 0
	}
	for _, r := range s.regions {
		if o, ok := snap.owners[r]; ok {
			if _, taking := counts[o]; taking {
				counts[o]++
			}
		}
	}
	return counts, len(counts)
}

func (s share) bounds(n int) (lo, hi int) {
	if n == 0 {
		return 0, 0
	}
	r := len(s.regions)
	return r / n, (r + n - 1) / n
}

// mayTake says whether this node should try to take a region seen free for freeFor, given the grace and the
// failsafe.
func (s share) mayTake(snap *snapshot, draining bool, freeFor, grace, failsafe time.Duration) bool {
	if draining {
		return false
	}
	if freeFor >= failsafe {
		return true
	}
	counts, n := s.counts(snap, draining)
	lo, hi := s.bounds(n)
	mine := counts[s.self]
	return mine < lo || (mine < hi && freeFor >= grace)
}

// giveAway is the region this node should release now to even the share out, if any.
func (s share) giveAway(snap *snapshot) (string, bool) {
	for _, r := range s.regions {
		if _, held := snap.owners[r]; !held {
			// A region is on its way to another node (given away, or its owner died): nobody gives another
			// until it has one, or the next to give would count from a share that is about to change.
			return "", false
		}
	}
	counts, n := s.counts(snap, false)
	lo, hi := s.bounds(n)
	mine := counts[s.self]
	give := mine > hi
	if !give && mine > lo {
		under := false
		for _, c := range counts {
			under = under || c < lo
		}
		if under {
			// Only the node holding the most gives (the lowest id among equals).
			most := s.self
			for id, c := range counts {
				if c > counts[most] || (c == counts[most] && id < most) {
					most = id
				}
			}
			give = most == s.self
		}
	}
	if !give {
		return "", false
	}
	// The last region held, in the order of the configuration: the first (the control region) moves last.
	for _, r := range slices.Backward(s.regions) {
		if snap.owners[r] == s.self {
			return r, true
		}
	}
	return "", false
}
