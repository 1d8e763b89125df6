// Package ch answers exact shortest-path queries on a directed graph with integer weights, fast, by contraction
// hierarchies.
//
// The graph is plain: nodes are 0..n-1, each [Edge] has a travel time (the metric minimised) and a length (summed
// along the chosen path). [Build] contracts the graph once into a [Hierarchy]; a [Query] then answers one-to-one
// routes ([Query.Route], [Query.Path]), many-to-many tables ([Query.Table]) and search spaces that a caller meets
// pair by pair ([Query.Forward], [Query.Backward], [Meet]; a source asked about one target meets the target's
// space without a space of its own, [Query.MeetForward]). Every answer equals plain Dijkstra ([Dijkstra]) on
// the original graph: the weight is the least travel time, and among the fastest paths the length is the least.
//
// Searches start and end at sets of [Seed]s, so a point in the middle of a road edge enters as its two ends,
// each with what is spent reaching it.
//
// # Why contraction hierarchies
//
// A dispatch round asks for tens of thousands of exact travel times among places it knows only then, on a network
// that changes only when a new map is prepared. Contraction hierarchies suit that: one preparation, then exact
// one-to-one queries that settle a few hundred junctions, many-to-many tables from one search per place, and
// per-place search spaces that any two places meet in (what a round's batch shares). Plain Dijkstra or A* settles
// a city's worth of junctions per query; landmarks (ALT) give less speed for the same exactness; hub labels answer
// faster but store hundreds of labels per junction, gigabytes for a city; customizable route planning pays off
// when weights change often (live traffic), which a prepared map does not have. The hierarchy takes the part of
// hub labels that pays: the search spaces of its top twentieth, which every search ends in, are kept once made
// (upper.go), so that a search climbs only to the top and a route meets there in a few hundred array reads.
//
// # Overflow
//
// Sums saturate instead of wrapping: a travel time is at most [MaxWeight] and a length at most [MaxLength].
// [Unreachable] is never a reachable weight.
//
// # Concurrency
//
// A Hierarchy is read-only after Build or [ReadFrom] and may be shared; a Query holds the buffers of one search
// at a time and belongs to one goroutine. The one thing a Hierarchy adds to after Build is the search spaces of
// its top nodes, kept on first use or made at once by [Hierarchy.KeepTop] (upper.go): safe for concurrent use, the
// top twentieth of the nodes both ways (123 MB for the car on the metro of a million junctions).
package ch

import (
	"errors"
	"fmt"
	"math"
	"sync"
)

// Edge is a directed edge of the input graph; its index in the slice given to [Build] is its id (what
// [Query.Path] returns).
type Edge struct {
	From, To int32
	// Weight is the metric minimised, a travel time in milliseconds. Zero is allowed.
	Weight uint32
	// Length is a second metric summed along the chosen path, in decimetres.
	Length uint32
}

// Seed is where a search starts or ends: a node plus what is already spent reaching it from the true start (on
// the source side) or still to spend from it to the true end (on the target side).
type Seed struct {
	Node           int32
	Weight, Length uint32
}

const (
	// Unreachable is the weight (and length) reported where there is no path.
	Unreachable = ^uint32(0)
	// MaxWeight is the largest reachable weight: longer travel times saturate to it.
	MaxWeight = Unreachable - 1
	// MaxLength is the largest length: longer sums saturate to it.
	MaxLength = ^uint32(0)
)

// Options tune [Build]. The zero value is ready to use, and no option changes the answers of the hierarchy.
type Options struct {
	// Workers is the number of goroutines that contract in parallel; 0 means 1. Build starts them and waits
	// for them before it returns. The hierarchy does not depend on it: Build gives the same bytes for any number
	// of workers.
	Workers int
}

// Hierarchy is a contracted graph ready for queries. It is read-only and safe for concurrent use.
type Hierarchy struct {
	numNodes int
	numEdges int
	// idOf maps a node to its id inside the hierarchy; nodeOf is its inverse. Ids are numbered for the memory
	// searches read (see renumber); rank is each id's place in the contraction order, up edges lead to higher
	// ranks.
	idOf, nodeOf, rank []int32
	// g holds the edges of the hierarchy by id.
	g graph
	// arcs are the edges of the hierarchy: an original edge or a shortcut of two arcs.
	arcs []arc

	queries sync.Pool
	// flats are the flat search states of tables, kept between tables: as many as tables' goroutines have run
	// at once, at most GOMAXPROCS, each 16 bytes a node.
	flatMu sync.Mutex
	flats  []*flatSearch

	// The kept spaces of the top nodes (see upper), made on first use; upperNodes is how many nodes keep one: 0
	// for the default share, negative for none (KeepShare and tests set it).
	upOnce     sync.Once
	up         *upper
	upperNodes int
}

// graph is an adjacency array by id. The up edges of v lead to nodes of higher rank; its down edges arrive from
// nodes of higher rank, with head the tail of the edge. A forward search climbs up edges and a backward search
// down edges. Both lists of a node are stored together, up then down, so that a search reads one place:
// edges[index[v].up:index[v].down] and edges[index[v].down:index[v+1].up].
//
// The arc of edges[i] is arcOf[i], kept apart: a search reads the arc of an edge only when it reaches a node
// better by it, and 12-byte edges put more of a node's lists in each line of cache.
type graph struct {
	index []span // numNodes+1 entries; the last has up == down == len(edges)
	edges []halfEdge
	arcOf []int32
	// most is the largest weight and the largest length of an edge, as the halves of a cost (see addsPlainly).
	most cost
}

type span struct{ up, down int32 }

// lists returns the up and down edges of v.
func (g *graph) lists(v int32) (up, down []halfEdge) {
	a, b, c := g.index[v].up, g.index[v].down, g.index[v+1].up
	return g.edges[a:b:b], g.edges[b:c:c]
}

// halfEdge is an entry of an adjacency array: the head and the cost (see pack) in two halves.
type halfEdge struct {
	head           int32
	weight, length uint32
}

func (e halfEdge) cost() cost { return cost(e.weight)<<32 | cost(e.length) }

// listEdge is an edge of a list while the graph is put together: a halfEdge with its arc.
type listEdge struct {
	head int32
	arc  int32
	cost cost
}

// appendList appends list to g's edges and arcs.
func (g *graph) appendList(list []listEdge) {
	for _, e := range list {
		g.appendEdge(e)
	}
}

// appendEdge appends e to g's edges and arcs; every edge of a graph is appended by it.
func (g *graph) appendEdge(e listEdge) {
	w, l := unpack(e.cost)
	g.edges = append(g.edges, halfEdge{head: e.head, weight: w, length: l})
	g.arcOf = append(g.arcOf, e.arc)
	g.most = max(g.most>>32, cost(w))<<32 | max(g.most&math.MaxUint32, cost(l))
}

// list returns the edges of g from a to b with their arcs.
func (g *graph) list(dst []listEdge, a, b int32) []listEdge {
	for i := a; i < b; i++ {
		dst = append(dst, listEdge{head: g.edges[i].head, arc: g.arcOf[i], cost: g.edges[i].cost()})
	}
	return dst
}

// arc is an edge of the hierarchy: the original edge a when b < 0, or the shortcut made of arcs a then b.
type arc struct {
	a, b int32
}

// cost packs a travel time (high 32 bits) and a length (low 32 bits), so that comparing costs compares time first
// and length second.
type cost = uint64

const infinite cost = math.MaxUint64

func pack(w, l uint32) cost {
	if w > MaxWeight {
		return infinite
	}
	return cost(w)<<32 | cost(l)
}

func unpack(c cost) (w, l uint32) {
	return uint32(c >> 32), uint32(c)
}

// add sums two costs, saturating each part; infinite stays infinite.
func add(a, b cost) cost {
	if a == infinite || b == infinite {
		return infinite
	}
	w := a>>32 + b>>32
	l := a&math.MaxUint32 + b&math.MaxUint32
	if w > cost(MaxWeight) {
		w = cost(MaxWeight)
	}
	if l > math.MaxUint32 {
		l = math.MaxUint32
	}
	return w<<32 | l
}

// fitMask is the bits a cost leaves clear when it fits: both halves below 2^29 (149 hours, 53 687 km). A sum of
// three fitting costs as plain integers is add's sum, and stays below absent.
const fitMask cost = 0xE0000000_E0000000

// absent stands, in loops that add fitting costs as plain integers, for a node that a space does not hold: above
// every sum of fitting costs, and a sum of it with two fitting costs does not overflow.
const absent cost = 1 << 63

// addsPlainly reports whether c plus any cost whose halves are at most those of most saturates neither half, so
// that their sum as plain integers is add's.
func addsPlainly(c, most cost) bool {
	return c>>32 <= cost(MaxWeight)-most>>32 && c&math.MaxUint32 <= cost(MaxLength)-most&math.MaxUint32
}

// ErrInput is wrapped by every error of Build about its input.
var ErrInput = errors.New("ch: invalid input")

// maxNodes bounds the node count so that ranks and arc ids fit in int32.
const maxNodes = math.MaxInt32 - 1

func validate(numNodes int, edges []Edge) error {
	if numNodes < 0 || numNodes > maxNodes {
		return fmt.Errorf("%w: numNodes %d out of range [0, %d]", ErrInput, numNodes, maxNodes)
	}
	if len(edges) > maxNodes {
		return fmt.Errorf("%w: %d edges, more than %d", ErrInput, len(edges), maxNodes)
	}
	for i, e := range edges {
		if e.From < 0 || int(e.From) >= numNodes {
			return fmt.Errorf("%w: edge %d: From %d out of range [0, %d)", ErrInput, i, e.From, numNodes)
		}
		if e.To < 0 || int(e.To) >= numNodes {
			return fmt.Errorf("%w: edge %d: To %d out of range [0, %d)", ErrInput, i, e.To, numNodes)
		}
		if e.Weight > MaxWeight {
			return fmt.Errorf("%w: edge %d: Weight %d above MaxWeight", ErrInput, i, e.Weight)
		}
	}
	return nil
}

// NumNodes returns the number of nodes of the graph the hierarchy was built from.
func (h *Hierarchy) NumNodes() int { return h.numNodes }

// NumEdges returns the number of edges of the graph the hierarchy was built from.
func (h *Hierarchy) NumEdges() int { return h.numEdges }

// NumArcs returns the number of arcs the hierarchy stores, original edges and shortcuts together.
func (h *Hierarchy) NumArcs() int { return len(h.arcs) }

// CheckSeeds returns an error naming the first seed whose node is out of range. Queries ignore such seeds.
func (h *Hierarchy) CheckSeeds(seeds []Seed) error {
	for i, s := range seeds {
		if s.Node < 0 || int(s.Node) >= h.numNodes {
			return fmt.Errorf("%w: seed %d: Node %d out of range [0, %d)", ErrInput, i, s.Node, h.numNodes)
		}
	}
	return nil
}
