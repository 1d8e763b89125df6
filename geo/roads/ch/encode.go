package ch

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The encoding, all integers little-endian:
//
//	magic "DCHH", version uint32
//	numNodes, numEdges, numArcs, numHalf uint32
//	nodeOf   [numNodes]int32                 the node of each id
//	rank     [numNodes]int32                 the contraction rank of each id (up edges lead to higher ranks)
//	index    [numNodes+1](up, down int32)    where each id's up and down edges start
//	edges    numHalf × (head int32, arc int32, cost uint64)
//	arcs     numArcs × (a int32, b int32)

var magic = [4]byte{'D', 'C', 'H', 'H'}

// version 2 numbers the nodes depth first from the top (see renumber) and stores their ranks; version 1 used
// the ranks as ids.
const version = 2

// ErrFormat is wrapped by every error of [ReadFrom] about malformed input.
var ErrFormat = errors.New("ch: malformed hierarchy")

// ErrVersion is wrapped, besides [ErrFormat], by the error of [ReadFrom] for a hierarchy written in another
// version of the encoding: one to build again rather than a damaged one.
var ErrVersion = errors.New("ch: encoding of another version")

// WriteTo writes the hierarchy in the form [ReadFrom] reads. The bytes depend only on the graph given to [Build].
func (h *Hierarchy) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	cw := &countWriter{w: bw}
	var buf [16]byte
	put32 := func(v uint32) {
		binary.LittleEndian.PutUint32(buf[:4], v)
		cw.write(buf[:4])
	}
	cw.write(magic[:])
	put32(version)
	for _, v := range []int{h.numNodes, h.numEdges, len(h.arcs), len(h.g.edges)} {
		put32(uint32(v))
	}
	for _, v := range h.nodeOf {
		put32(uint32(v))
	}
	for _, r := range h.rank {
		put32(uint32(r))
	}
	for _, s := range h.g.index {
		put32(uint32(s.up))
		put32(uint32(s.down))
	}
	for i, e := range h.g.edges {
		binary.LittleEndian.PutUint32(buf[0:], uint32(e.head))
		binary.LittleEndian.PutUint32(buf[4:], uint32(h.g.arcOf[i]))
		binary.LittleEndian.PutUint64(buf[8:], e.cost())
		cw.write(buf[:16])
	}
	for _, a := range h.arcs {
		binary.LittleEndian.PutUint32(buf[0:], uint32(a.a))
		binary.LittleEndian.PutUint32(buf[4:], uint32(a.b))
		cw.write(buf[:8])
	}
	if cw.err == nil {
		cw.err = bw.Flush()
	}
	return cw.n, cw.err
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) write(p []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
}

// ReadFrom reads a hierarchy written by [Hierarchy.WriteTo]. It checks the whole structure (counts, ranges, the
// order of ranks and arcs) and returns an error wrapping [ErrFormat] for anything malformed; it allocates in
// proportion to the bytes actually read, whatever the counts claim. A reader that tells how many bytes it holds
// (a Len method, as bytes.Reader has) lets it allocate each array at once, for as many items as those bytes can
// hold at most.
func ReadFrom(r io.Reader) (*Hierarchy, error) {
	d := &decoder{r: bufio.NewReaderSize(r, 1<<16), left: 1 << 20}
	if l, ok := r.(interface{ Len() int }); ok {
		d.left = max(l.Len(), 0)
	}
	var m [4]byte
	d.read(m[:])
	if d.err == nil && m != magic {
		return nil, fmt.Errorf("%w: bad magic %q", ErrFormat, m[:])
	}
	if v := d.u32(); d.err == nil && v != version {
		return nil, fmt.Errorf("%w: version %d, want %d: %w", ErrFormat, v, version, ErrVersion)
	}
	var counts [4]int
	names := [4]string{"numNodes", "numEdges", "numArcs", "numHalf"}
	for i := range counts {
		v := d.u32()
		if d.err == nil && v > maxNodes {
			return nil, fmt.Errorf("%w: %s %d too large", ErrFormat, names[i], v)
		}
		counts[i] = int(v)
	}
	if d.err != nil {
		return nil, d.fail("header")
	}
	n := counts[0]
	h := &Hierarchy{numNodes: n, numEdges: counts[1]}
	numArcs := counts[2]

	h.nodeOf = d.int32s(n)
	if d.err != nil {
		return nil, d.fail("node order")
	}
	h.idOf = make([]int32, n)
	for i := range h.idOf {
		h.idOf[i] = -1
	}
	for rank, v := range h.nodeOf {
		if v < 0 || int(v) >= n || h.idOf[v] >= 0 {
			return nil, fmt.Errorf("%w: node order: id %d holds node %d, not a permutation", ErrFormat, rank, v)
		}
		h.idOf[v] = int32(rank)
	}
	h.rank = d.int32s(n)
	if d.err != nil {
		return nil, d.fail("ranks")
	}
	seen := make([]bool, n)
	for id, r := range h.rank {
		if r < 0 || int(r) >= n || seen[r] {
			return nil, fmt.Errorf("%w: ranks: id %d has rank %d, not a permutation", ErrFormat, id, r)
		}
		seen[r] = true
	}
	seen = nil
	var err error
	if h.g, err = d.graph(h.rank, counts[3], numArcs); err != nil {
		return nil, err
	}
	h.arcs = make([]arc, 0, d.capFor(numArcs, 8))
	for len(h.arcs) < numArcs && d.err == nil {
		b := d.next(numArcs-len(h.arcs), 8)
		for ; len(b) >= 8; b = b[8:] {
			if err := h.appendArc(arc{a: int32(binary.LittleEndian.Uint32(b)), b: int32(binary.LittleEndian.Uint32(b[4:]))}); err != nil {
				return nil, err
			}
		}
	}
	if d.err != nil {
		return nil, d.fail("arcs")
	}
	if err := h.checkUnpacking(); err != nil {
		return nil, err
	}
	return h, nil
}

// appendArc appends a read arc after checking it.
func (h *Hierarchy) appendArc(a arc) error {
	i := len(h.arcs)
	switch {
	case a.b < 0:
		if a.b != -1 || a.a < 0 || int(a.a) >= h.numEdges {
			return fmt.Errorf("%w: arc %d: original edge %d out of range [0, %d)", ErrFormat, i, a.a, h.numEdges)
		}
	case a.a < 0 || int(a.a) >= i || int(a.b) >= i:
		return fmt.Errorf("%w: arc %d: shortcut of arcs %d and %d, not both earlier", ErrFormat, i, a.a, a.b)
	}
	h.arcs = append(h.arcs, a)
	return nil
}

// checkUnpacking refuses arcs that unpack to more edges than the graph has.
func (h *Hierarchy) checkUnpacking() error {
	// A shortcut unpacks to more edges than the graph has only in a forged file; refuse it rather than let
	// Path build a huge slice.
	edgesOf := make([]int64, len(h.arcs))
	for i, a := range h.arcs {
		if a.b < 0 {
			edgesOf[i] = 1
			continue
		}
		edgesOf[i] = edgesOf[a.a] + edgesOf[a.b]
		if edgesOf[i] > int64(max(h.numEdges, 1)) {
			return fmt.Errorf("%w: arc %d: unpacks to more edges than the graph has", ErrFormat, i)
		}
	}
	return nil
}

type decoder struct {
	r     *bufio.Reader
	left  int // bytes the input holds at most, or 1 MiB when it does not say
	err   error
	buf   [16]byte
	chunk []byte
}

// next reads the next records of size bytes, as many of the count left as a chunk of 64 KiB holds, and returns
// their bytes (nil after an error). Arrays are read this way so that the bytes read, not the counts a file
// claims, decide what is allocated.
func (d *decoder) next(count, size int) []byte {
	if d.chunk == nil {
		d.chunk = make([]byte, 1<<16)
	}
	b := d.chunk[:min(count, len(d.chunk)/size)*size]
	d.read(b)
	if d.err != nil {
		return nil
	}
	return b
}

// capFor returns the capacity to allocate for count items of size bytes: as many as the input can hold.
func (d *decoder) capFor(count, size int) int { return max(0, min(count, d.left/size)) }

func (d *decoder) read(p []byte) {
	if d.err == nil {
		_, d.err = io.ReadFull(d.r, p)
	}
}

func (d *decoder) u32() uint32 {
	d.read(d.buf[:4])
	return binary.LittleEndian.Uint32(d.buf[:4])
}

func (d *decoder) fail(section string) error {
	if errors.Is(d.err, io.EOF) || errors.Is(d.err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s: truncated", ErrFormat, section)
	}
	return fmt.Errorf("%w: %s: %w", ErrFormat, section, d.err)
}

// int32s reads n values, growing the slice as bytes arrive rather than trusting n.
func (d *decoder) int32s(n int) []int32 {
	out := make([]int32, 0, d.capFor(n, 4))
	for len(out) < n && d.err == nil {
		for b := d.next(n-len(out), 4); len(b) >= 4; b = b[4:] {
			out = append(out, int32(binary.LittleEndian.Uint32(b)))
		}
	}
	return out
}

func (d *decoder) graph(rank []int32, m, numArcs int) (graph, error) {
	n := len(rank)
	flat := d.int32s(2 * (n + 1))
	if d.err != nil {
		return graph{}, d.fail("index")
	}
	g := graph{index: make([]span, n+1)}
	for v := range g.index {
		g.index[v] = span{up: flat[2*v], down: flat[2*v+1]}
	}
	if g.index[0].up != 0 || int(g.index[n].up) != m || int(g.index[n].down) != m {
		return g, fmt.Errorf("%w: index: offsets run from %d to %d, want 0 to %d", ErrFormat, g.index[0].up, g.index[n].down, m)
	}
	for v := range n {
		if s := g.index[v]; s.down < s.up || g.index[v+1].up < s.down {
			return g, fmt.Errorf("%w: index: offsets decrease at id %d", ErrFormat, v)
		}
	}
	g.edges = make([]halfEdge, 0, d.capFor(m, 16))
	g.arcOf = make([]int32, 0, d.capFor(m, 16))
	v := 0
	for len(g.edges) < m && d.err == nil {
		for b := d.next(m-len(g.edges), 16); len(b) >= 16; b = b[16:] {
			if err := g.appendRead(rank, &v, numArcs, listEdge{
				head: int32(binary.LittleEndian.Uint32(b[0:])),
				arc:  int32(binary.LittleEndian.Uint32(b[4:])),
				cost: binary.LittleEndian.Uint64(b[8:]),
			}); err != nil {
				return g, err
			}
		}
	}
	if d.err != nil {
		return g, d.fail("edges")
	}
	return g, nil
}

// appendRead appends a read edge after checking it; *v is the id whose lists it is in, advanced as the edges
// pass the index's offsets.
func (g *graph) appendRead(rank []int32, v *int, numArcs int, e listEdge) error {
	n, i := len(rank), len(g.edges)
	for int(g.index[*v+1].up) <= i {
		*v++
	}
	switch {
	case e.head < 0 || int(e.head) >= n:
		return fmt.Errorf("%w: edges: edge %d: head %d out of range [0, %d)", ErrFormat, i, e.head, n)
	case rank[e.head] <= rank[*v]:
		return fmt.Errorf("%w: edges: edge %d of id %d (rank %d) leads to id %d (rank %d), not higher", ErrFormat, i, *v, rank[*v], e.head, rank[e.head])
	case e.arc < 0 || int(e.arc) >= numArcs:
		return fmt.Errorf("%w: edges: edge %d: arc %d out of range [0, %d)", ErrFormat, i, e.arc, numArcs)
	case e.cost>>32 > uint64(MaxWeight):
		return fmt.Errorf("%w: edges: edge %d: weight %d above MaxWeight", ErrFormat, i, e.cost>>32)
	}
	g.appendEdge(e)
	return nil
}
