package node

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/o2o-dispatch/dispatchd/dispatch/cluster/jsjournal"
)

// Level says whether this node's replica of region has read every record its stream holds now: true when it
// owns the region (an owner's state is the stream's), or when its follower's position is the stream's last
// sequence number as the stream answers now (one round trip to NATS). False while the replica opens, or when the
// stream cannot be asked (an error). Caught up (CaughtUp) is not level: a standby follows its owner a little
// behind, and what was written a moment ago through another node may not be here yet.
func (n *Node) Level(ctx context.Context, regionName string) (bool, error) {
	r, ok := n.regions[regionName]
	if !ok {
		return false, errors.New("node: unknown region " + regionName)
	}
	r.mu.Lock()
	role, f, rep := r.role, r.follower, r.rep
	r.mu.Unlock()
	if rep == nil {
		return false, nil
	}
	if _, owner := n.Local(regionName); owner {
		return true, nil
	}
	if role != RoleStandby || f == nil {
		return false, nil
	}
	js, err := jetstream.New(n.cfg.Conn)
	if err != nil {
		return false, err
	}
	s, err := js.Stream(ctx, jsjournal.StreamName(regionName))
	if errors.Is(err, jetstream.ErrStreamNotFound) && rep.Position() == 0 {
		return true, nil // never written
	}
	if err != nil {
		return false, err
	}
	return f.Position() >= s.CachedInfo().State.LastSeq, nil
}
