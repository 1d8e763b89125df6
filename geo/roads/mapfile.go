package roads

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/geo/roads/ch"
)

// The prepared map file. Every number is little-endian.
//
//	header   magic "DSPDMAP\n", format version (u32), section count (u32)
//	table    per section: name (16 bytes, zero-padded), offset from the file's start (u64), length (u64),
//	         xxhash64 of the section's bytes (u64)
//	         then xxhash64 of the header and table (u64)
//	sections meta, nodes, edges, shape, index, then per graph (foot, bike, scooter, car) arcs.<name> and ch.<name>
//
// meta holds the counts (nodes, edges, shape points) and each graph's dropped nodes as u64; nodes and shape
// are lon, lat float64 pairs; edges holds from (i32), to (i32), metres (f64), length in decimetres (u32), then
// the shape offsets (u32, one more than the edges); index lists the segments (i32, the shape index of their
// first point) in the order the segment index buckets them; arcs.<name> holds the weights forwards and
// backwards (u32 per edge) and the hierarchy's arcs' edges (i32 each, ^e for an edge travelled backwards);
// ch.<name> is what ch.Hierarchy.WriteTo writes.
const (
	mapMagic       = "DSPDMAP\n"
	mapVersion     = 2 // 2: the hierarchies number their nodes depth first from the top
	sectionNameLen = 16
	tableEntryLen  = sectionNameLen + 24
	maxSections    = 64
)

// ErrMapFormat is matched (errors.Is) by every error about a damaged, foreign or newer map file.
var ErrMapFormat = errors.New("roads: bad map file")

// mapError is an error about a map file's contents; it says what is wrong and matches ErrMapFormat.
type mapError struct{ msg string }

func (e *mapError) Error() string        { return e.msg }
func (e *mapError) Is(target error) bool { return target == ErrMapFormat }

func badMap(format string, args ...any) error { return &mapError{fmt.Sprintf(format, args...)} }

// Prepare imports the OSM extract (PBF or XML) at osmPath and writes the prepared map to w, for Open to load
// quickly. It returns the network's figures.
func Prepare(ctx context.Context, osmPath string, w io.Writer, opt Options) (Stats, error) {
	net, err := Import(ctx, osmPath, opt)
	if err != nil {
		return Stats{}, err
	}
	if _, err := net.WriteTo(w); err != nil {
		return Stats{}, fmt.Errorf("roads: writing the map: %w", err)
	}
	return net.Stats(), nil
}

// Import reads the roads of an OSM extract (PBF or XML, told apart by their first bytes) and builds the network.
func Import(ctx context.Context, osmPath string, opt Options) (*Network, error) {
	kind, err := sniffFile(osmPath)
	if err != nil {
		return nil, err
	}
	if kind != kindPBF && kind != kindXML {
		return nil, fmt.Errorf("roads: %s: not an OSM PBF or XML file", osmPath)
	}
	b, err := readOSM(ctx, osmPath, kind)
	if err != nil {
		return nil, fmt.Errorf("roads: %s: %w", osmPath, err)
	}
	net, err := newNetwork(b, opt)
	if err != nil {
		return nil, fmt.Errorf("roads: %s: %w", osmPath, err)
	}
	return net, nil
}

// Open loads a network from a prepared map file, or imports it from a raw OSM extract (PBF or XML), whichever
// the file's first bytes say it is, with the default Options.
func Open(path string) (*Network, error) { return OpenWith(context.Background(), path, Options{}) }

// OpenWith is Open with options: the snap limit, the caches and the kept share apply to both kinds of file, the
// contraction settings only to an import.
func OpenWith(ctx context.Context, path string, opt Options) (*Network, error) {
	kind, err := sniffFile(path)
	if err != nil {
		return nil, err
	}
	if kind != kindMap {
		return Import(ctx, path, opt)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("roads: %w", err)
	}
	net, err := decodeMap(data)
	if err != nil {
		return nil, fmt.Errorf("roads: %s: %w", path, err)
	}
	net.snapLimit, net.cache, net.trips = opt.snapLimit(), opt.spaceCache(), opt.tripCache()
	opt.keepShare(net)
	return net, nil
}

func sniffFile(path string) (fileKind, error) {
	f, err := os.Open(path)
	if err != nil {
		return kindUnknown, fmt.Errorf("roads: %w", err)
	}
	defer f.Close()
	head := make([]byte, 64)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return kindUnknown, fmt.Errorf("roads: %s: %w", path, err)
	}
	k := sniff(head[:n])
	if k == kindUnknown {
		return k, fmt.Errorf("roads: %s: %w", path, badMap("not a dispatchd map file nor an OSM extract"))
	}
	return k, nil
}

// graphNames name the graphs' sections.
var graphNames = [numGraphs]string{"foot", "bike", "scooter", "car"}

type section struct {
	name string
	data []byte
}

// WriteTo writes the network as a prepared map file (see Prepare).
func (net *Network) WriteTo(w io.Writer) (int64, error) {
	var secs []section
	var meta []byte
	meta = binary.LittleEndian.AppendUint64(meta, uint64(len(net.nodes)))
	meta = binary.LittleEndian.AppendUint64(meta, uint64(len(net.from)))
	meta = binary.LittleEndian.AppendUint64(meta, uint64(len(net.shape)))
	for _, gr := range net.graphs {
		meta = binary.LittleEndian.AppendUint64(meta, uint64(gr.drop))
	}
	secs = append(secs, section{"meta", meta})
	secs = append(secs, section{"nodes", appendPoints(nil, net.nodes)})
	var edges []byte
	edges = appendI32(edges, net.from)
	edges = appendI32(edges, net.to)
	for _, m := range net.metres {
		edges = binary.LittleEndian.AppendUint64(edges, math.Float64bits(m))
	}
	edges = appendU32(edges, net.lenDM)
	edges = appendU32(edges, net.geomOff)
	secs = append(secs, section{"edges", edges})
	secs = append(secs, section{"shape", appendPoints(nil, net.shape)})
	secs = append(secs, section{"index", appendI32(nil, net.index.order)})
	for g, gr := range net.graphs {
		var arcs []byte
		arcs = appendU32(arcs, gr.w[0])
		arcs = appendU32(arcs, gr.w[1])
		arcs = binary.LittleEndian.AppendUint64(arcs, uint64(len(gr.chBase)))
		arcs = appendI32(arcs, gr.chBase)
		secs = append(secs, section{"arcs." + graphNames[g], arcs})
		var buf bytes.Buffer
		if _, err := gr.h.WriteTo(&buf); err != nil {
			return 0, err
		}
		secs = append(secs, section{"ch." + graphNames[g], buf.Bytes()})
	}

	head := []byte(mapMagic)
	head = binary.LittleEndian.AppendUint32(head, mapVersion)
	head = binary.LittleEndian.AppendUint32(head, uint32(len(secs)))
	off := uint64(len(head) + len(secs)*tableEntryLen + 8)
	for _, s := range secs {
		var name [sectionNameLen]byte
		copy(name[:], s.name)
		head = append(head, name[:]...)
		head = binary.LittleEndian.AppendUint64(head, off)
		head = binary.LittleEndian.AppendUint64(head, uint64(len(s.data)))
		head = binary.LittleEndian.AppendUint64(head, xxhash.Sum64(s.data))
		off += uint64(len(s.data))
	}
	head = binary.LittleEndian.AppendUint64(head, xxhash.Sum64(head))
	var total int64
	n, err := w.Write(head)
	total += int64(n)
	if err != nil {
		return total, err
	}
	for _, s := range secs {
		n, err := w.Write(s.data)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func appendPoints(b []byte, pts []orb.Point) []byte {
	b = append(make([]byte, 0, len(b)+16*len(pts)), b...)
	for _, p := range pts {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(p[0]))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(p[1]))
	}
	return b
}

func appendU32(b []byte, v []uint32) []byte {
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, x)
	}
	return b
}

func appendI32(b []byte, v []int32) []byte {
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, uint32(x))
	}
	return b
}

// reader takes fixed-size arrays off the front of a section, remembering the first shortfall.
type reader struct {
	name string
	b    []byte
	err  error
}

func (r *reader) take(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = badMap("section %s is too short", r.name)
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u64() uint64 {
	b := r.take(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

// array decodes n little-endian values of size bytes each.
func array[T any](r *reader, n, size uint64, get func([]byte) T) []T {
	if n > uint64(len(r.b))/size {
		r.take(math.MaxUint64)
		return nil
	}
	b := r.take(size * n)
	out := make([]T, n)
	for i := range out {
		out[i] = get(b[size*uint64(i):])
	}
	return out
}

func (r *reader) u32s(n uint64) []uint32 { return array(r, n, 4, binary.LittleEndian.Uint32) }

func (r *reader) i32s(n uint64) []int32 {
	return array(r, n, 4, func(b []byte) int32 { return int32(binary.LittleEndian.Uint32(b)) })
}

func (r *reader) f64s(n uint64) []float64 {
	return array(r, n, 8, func(b []byte) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b)) })
}

func (r *reader) points(n uint64) []orb.Point {
	return array(r, n, 16, func(b []byte) orb.Point {
		return orb.Point{math.Float64frombits(binary.LittleEndian.Uint64(b)), math.Float64frombits(binary.LittleEndian.Uint64(b[8:]))}
	})
}

func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = badMap("section %s has %d bytes too many", r.name, len(r.b))
	}
	return r.err
}

// decodeMap reads a prepared map file's bytes: header, checksums, then every section, then the checks that
// the arrays agree with one another, so a file that passes cannot make a query index out of range.
func decodeMap(data []byte) (*Network, error) {
	if !bytes.HasPrefix(data, []byte(mapMagic)) {
		return nil, badMap("not a dispatchd map file")
	}
	if len(data) < len(mapMagic)+8 {
		return nil, badMap("truncated in the header")
	}
	version := binary.LittleEndian.Uint32(data[len(mapMagic):])
	switch {
	case version < mapVersion:
		return nil, badMap("format version %d, older than this build's %d: prepare the map again (dispatchd map prepare)", version, mapVersion)
	case version > mapVersion:
		return nil, badMap("format version %d, this build reads %d", version, mapVersion)
	}
	count := binary.LittleEndian.Uint32(data[len(mapMagic)+4:])
	if count > maxSections {
		return nil, badMap("%d sections, at most %d expected", count, maxSections)
	}
	tableEnd := len(mapMagic) + 8 + int(count)*tableEntryLen
	if len(data) < tableEnd+8 {
		return nil, badMap("truncated in the section table")
	}
	if xxhash.Sum64(data[:tableEnd]) != binary.LittleEndian.Uint64(data[tableEnd:]) {
		return nil, badMap("checksum mismatch in the section table")
	}
	secs := make(map[string][]byte, count)
	for i := 0; i < int(count); i++ {
		e := data[len(mapMagic)+8+i*tableEntryLen:]
		name := string(bytes.TrimRight(e[:sectionNameLen], "\x00"))
		off := binary.LittleEndian.Uint64(e[sectionNameLen:])
		n := binary.LittleEndian.Uint64(e[sectionNameLen+8:])
		sum := binary.LittleEndian.Uint64(e[sectionNameLen+16:])
		if off > uint64(len(data)) || n > uint64(len(data))-off {
			return nil, badMap("truncated: section %s ends at byte %d, the file has %d", name, off+n, len(data))
		}
		b := data[off : off+n]
		if xxhash.Sum64(b) != sum {
			return nil, badMap("checksum mismatch in section %s", name)
		}
		secs[name] = b
	}
	get := func(name string) (*reader, error) {
		b, ok := secs[name]
		if !ok {
			return nil, badMap("section %s is missing", name)
		}
		return &reader{name: name, b: b}, nil
	}

	net := &Network{}
	r, err := get("meta")
	if err != nil {
		return nil, err
	}
	nn, ne, ns := r.u64(), r.u64(), r.u64()
	for g := range net.graphs {
		net.graphs[g] = &graph{drop: int(min(r.u64(), math.MaxInt32))}
	}
	if err := r.done(); err != nil {
		return nil, err
	}
	if nn > math.MaxInt32 || ne > math.MaxInt32 || ns > math.MaxUint32 {
		return nil, badMap("section meta: counts out of range")
	}
	if r, err = get("nodes"); err != nil {
		return nil, err
	}
	net.nodes = r.points(nn)
	if err := r.done(); err != nil {
		return nil, err
	}
	if r, err = get("edges"); err != nil {
		return nil, err
	}
	net.from, net.to = r.i32s(ne), r.i32s(ne)
	net.metres = r.f64s(ne)
	net.lenDM = r.u32s(ne)
	net.geomOff = r.u32s(ne + 1)
	if err := r.done(); err != nil {
		return nil, err
	}
	if r, err = get("shape"); err != nil {
		return nil, err
	}
	net.shape = r.points(ns)
	if err := r.done(); err != nil {
		return nil, err
	}
	if err := net.checkArrays(); err != nil {
		return nil, err
	}
	if r, err = get("index"); err != nil {
		return nil, err
	}
	net.index.order = r.i32s(uint64(len(r.b)) / 4)
	if err := r.done(); err != nil {
		return nil, err
	}
	if err := net.checkIndex(); err != nil {
		return nil, err
	}
	// The hierarchies are decoded and the segment index built at the same time, one goroutine each, waited for
	// here: on a map with every profile they are most of the work.
	errs := make([]error, len(net.graphs))
	var wg sync.WaitGroup
	for g, gr := range net.graphs {
		wg.Go(func() { errs[g] = net.decodeGraph(g, gr, get) })
	}
	wg.Go(net.buildIndex)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	net.finish()
	return net, nil
}

// decodeGraph reads graph g's arcs and hierarchy into gr.
func (net *Network) decodeGraph(g int, gr *graph, get func(string) (*reader, error)) error {
	r, err := get("arcs." + graphNames[g])
	if err != nil {
		return err
	}
	ne := uint64(len(net.from))
	gr.w[0], gr.w[1] = r.u32s(ne), r.u32s(ne)
	gr.chBase = r.i32s(r.u64())
	if err := r.done(); err != nil {
		return err
	}
	if r, err = get("ch." + graphNames[g]); err != nil {
		return err
	}
	h, err := ch.ReadFrom(bytes.NewReader(r.b))
	if err != nil {
		return badMap("section %s: %v", r.name, err)
	}
	gr.h = h
	return net.checkHierarchy(g)
}

// checkArrays verifies that the edges' nodes and shapes lie within their arrays and every coordinate is valid.
func (net *Network) checkArrays() error {
	bad := func(what string, args ...any) error { return badMap("section "+what, args...) }
	for i, p := range net.nodes {
		if !geoValid(p) {
			return bad("nodes: node %d has invalid coordinates", i)
		}
	}
	for i, p := range net.shape {
		if !geoValid(p) {
			return bad("shape: point %d has invalid coordinates", i)
		}
	}
	n := int32(len(net.nodes))
	if len(net.geomOff) > 0 && net.geomOff[0] != 0 {
		return bad("edges: the first shape offset is not 0")
	}
	for e := range net.from {
		if net.from[e] < 0 || net.from[e] >= n || net.to[e] < 0 || net.to[e] >= n {
			return bad("edges: edge %d has a node out of range", e)
		}
		lo, hi := net.geomOff[e], net.geomOff[e+1]
		if hi < lo+2 || hi > uint32(len(net.shape)) {
			return bad("edges: edge %d has a shape out of range", e)
		}
		if m := net.metres[e]; !(m >= 0) || math.IsInf(m, 0) {
			return bad("edges: edge %d has length %g", e, m)
		}
	}
	if len(net.from) > 0 && net.geomOff[len(net.from)] != uint32(len(net.shape)) {
		return bad("edges: the shape offsets do not end at the shape's end")
	}
	return nil
}

// checkIndex verifies that the index lists every segment once.
func (net *Network) checkIndex() error {
	seen := make([]bool, len(net.shape))
	segs := 0
	for e := range net.from {
		segs += int(net.geomOff[e+1]-net.geomOff[e]) - 1
		for i := net.geomOff[e]; i+1 < net.geomOff[e+1]; i++ {
			seen[i] = true // a segment start, not yet listed
		}
	}
	if len(net.index.order) != segs {
		return badMap("section index lists %d segments, the network has %d", len(net.index.order), segs)
	}
	for _, s := range net.index.order {
		if s < 0 || int(s) >= len(seen) || !seen[s] {
			return badMap("section index lists segment %d twice or out of range", s)
		}
		seen[s] = false
	}
	return nil
}

// checkHierarchy verifies that graph g's hierarchy has the network's nodes and its arcs name real edges.
func (net *Network) checkHierarchy(g int) error {
	gr := net.graphs[g]
	name := "arcs." + graphNames[g]
	if gr.h.NumNodes() != len(net.nodes) {
		return badMap("section ch.%s has %d nodes, the network %d", graphNames[g], gr.h.NumNodes(), len(net.nodes))
	}
	if gr.h.NumEdges() != len(gr.chBase) {
		return badMap("section ch.%s has %d edges, %s names %d", graphNames[g], gr.h.NumEdges(), name, len(gr.chBase))
	}
	for i, b := range gr.chBase {
		e := b
		if e < 0 {
			e = ^e
		}
		if int(e) >= len(net.from) {
			return badMap("section %s: arc %d names edge %d of %d", name, i, e, len(net.from))
		}
	}
	return nil
}
