package roads

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/paulmach/orb"
	"github.com/paulmach/osm"
	"github.com/paulmach/osm/osmpbf"
	"github.com/paulmach/osm/osmxml"

	"github.com/o2o-dispatch/dispatchd/geo"
)

// fileKind is what the first bytes of a file say it is.
type fileKind int

const (
	kindUnknown fileKind = iota
	kindMap              // a prepared map file (see Prepare)
	kindPBF              // an OSM PBF extract
	kindXML              // an OSM XML file
)

// sniff reads the kind of a file from its first bytes: the prepared map's magic, a PBF's first blob header
// (a 4-byte length then a BlobHeader whose type is "OSMHeader"), or XML's opening '<'.
func sniff(head []byte) fileKind {
	if bytes.HasPrefix(head, []byte(mapMagic)) {
		return kindMap
	}
	if len(head) >= 16 && head[0] == 0 && bytes.Contains(head[4:16], []byte("OSMHeader")) {
		return kindPBF
	}
	t := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(t) > 0 && t[0] == '<' {
		return kindXML
	}
	return kindUnknown
}

// osmScanner is what osmpbf's and osmxml's scanners have in common.
type osmScanner interface {
	Scan() bool
	Object() osm.Object
	Err() error
	Close() error
}

// scanOSM calls fn for each way (ways true) or each node (ways false) of the OSM file at path.
func scanOSM(ctx context.Context, path string, kind fileKind, ways bool, fn func(osm.Object)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var sc osmScanner
	switch kind {
	case kindPBF:
		s := osmpbf.New(ctx, f, 1)
		s.SkipRelations = true
		s.SkipNodes = ways
		s.SkipWays = !ways
		sc = s
	case kindXML:
		sc = osmxml.New(ctx, bufio.NewReader(f))
	default:
		return errors.New("not an OSM file")
	}
	defer sc.Close()
	for sc.Scan() {
		switch o := sc.Object().(type) {
		case *osm.Way:
			if ways {
				fn(o)
			}
		case *osm.Node:
			if !ways {
				fn(o)
			}
		}
	}
	return sc.Err()
}

// osmWay is a way that some profile may use, as the first pass keeps it.
type osmWay struct {
	nodes []osm.NodeID
	rules [numGraphs]wayRule
}

// readOSM reads the roads of an OSM PBF or XML file into a base graph: one pass over the ways keeps those that
// some profile may use, a second pass over the nodes keeps the coordinates of their nodes.
func readOSM(ctx context.Context, path string, kind fileKind) (*baseGraph, error) {
	var ways []osmWay
	uses := make(map[osm.NodeID]int32) // how many times ways pass through a node; ends count twice
	err := scanOSM(ctx, path, kind, true, func(o osm.Object) {
		w := o.(*osm.Way)
		rules := wayRules(func(k string) string { return w.Tags.Find(k) })
		open := false
		for _, r := range rules {
			open = open || r.fwd || r.bwd
		}
		if !open || len(w.Nodes) < 2 {
			return
		}
		ids := make([]osm.NodeID, len(w.Nodes))
		for i, n := range w.Nodes {
			ids[i] = n.ID
			uses[n.ID]++
		}
		uses[ids[0]]++
		uses[ids[len(ids)-1]]++
		ways = append(ways, osmWay{nodes: ids, rules: rules})
	})
	if err != nil {
		return nil, fmt.Errorf("reading ways: %w", err)
	}
	coords := make(map[osm.NodeID]orb.Point, len(uses))
	err = scanOSM(ctx, path, kind, false, func(o osm.Object) {
		n := o.(*osm.Node)
		if _, ok := uses[n.ID]; ok {
			coords[n.ID] = orb.Point{n.Lon, n.Lat}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("reading nodes: %w", err)
	}

	b := &baseGraph{}
	ids := make(map[osm.NodeID]int32)
	nodeOf := func(id osm.NodeID) int32 {
		if v, ok := ids[id]; ok {
			return v
		}
		v := int32(len(b.nodes))
		ids[id] = v
		b.nodes = append(b.nodes, coords[id])
		return v
	}
	var shape []orb.Point
	for _, w := range ways {
		// A node missing from the extract (a way clipped at its border) splits the way.
		start := -1
		shape = shape[:0]
		var last osm.NodeID
		for i, id := range w.nodes {
			p, ok := coords[id]
			if !ok || !geoValid(p) {
				start = -1
				shape = shape[:0]
				continue
			}
			if start >= 0 && id == last {
				continue // a node repeated in a row adds nothing
			}
			shape = append(shape, p)
			last = id
			end := i == len(w.nodes)-1 || uses[id] > 1
			if i+1 < len(w.nodes) {
				if _, ok := coords[w.nodes[i+1]]; !ok {
					end = true
				}
			}
			if start < 0 {
				start = int(nodeOf(id))
				continue
			}
			if end {
				to := nodeOf(id)
				b.addEdge(int32(start), to, shape, w.rules)
				start = int(to)
				shape = append(shape[:0], p)
			}
		}
	}
	return b, nil
}

func geoValid(p orb.Point) bool { return geo.Geographic.Validate(p) == nil }
