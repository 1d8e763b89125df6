package node

import (
	"context"
	"sort"

	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// Status is the cluster as this node sees it now (GET /v1/cluster): the leases and the registry read afresh,
// this node's replicas as they are, the others' as of their last heartbeat.
func (n *Node) Status(ctx context.Context) (*service.ClusterStatus, error) {
	snap, err := n.observe(ctx)
	if err != nil {
		return nil, err
	}
	st := &service.ClusterStatus{Node: n.cfg.ID, At: snap.at.UTC(), Nodes: []service.ClusterNode{}}
	replicas := map[string]map[string]ReplicaState{} // node → region → state
	alive := map[string]bool{}
	for _, m := range snap.members {
		started := m.Started
		st.Nodes = append(st.Nodes, service.ClusterNode{ID: m.ID, URL: m.URL, Alive: true, Draining: m.Draining, Started: &started})
		replicas[m.ID] = m.Replicas
		alive[m.ID] = true
	}
	self := map[string]ReplicaState{}
	for _, r := range n.regions {
		self[r.name] = r.state()
	}
	replicas[n.cfg.ID] = self
	if !alive[n.cfg.ID] {
		started := n.started
		st.Nodes = append(st.Nodes, service.ClusterNode{ID: n.cfg.ID, URL: n.cfg.URL, Alive: true, Draining: n.isDraining(), Started: &started})
		alive[n.cfg.ID] = true
	}
	for _, region := range n.cfg.Regions {
		if o, ok := snap.owners[region]; ok && !alive[o] {
			st.Nodes = append(st.Nodes, service.ClusterNode{ID: o})
			alive[o] = true // listed once
		}
	}
	sort.Slice(st.Nodes, func(i, j int) bool { return st.Nodes[i].ID < st.Nodes[j].ID })

	ids := make([]string, 0, len(replicas))
	for id := range replicas {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, region := range n.cfg.Regions {
		rs := service.ClusterRegion{Region: region, Replicas: []service.ClusterReplica{}}
		var last uint64
		if o, ok := snap.owners[region]; ok {
			rs.Owner, rs.Epoch = o, snap.epochs[region]
			if exp := snap.expires[region]; !exp.IsZero() {
				exp = exp.UTC()
				rs.LeaseExpires = &exp
			}
			if s, ok := replicas[o][region]; ok && s.Role == RoleOwner {
				rs.Journal = &service.ClusterJournal{LastSeq: s.Last, DurableSeq: s.Durable}
				last = s.Last
			}
		}
		for _, id := range ids {
			s, ok := replicas[id][region]
			if !ok {
				continue
			}
			rep := service.ClusterReplica{Node: id, Role: s.Role, Position: s.Position}
			if last > s.Position && s.Role != RoleOwner {
				rep.Lag = last - s.Position
			}
			rs.Replicas = append(rs.Replicas, rep)
		}
		st.Regions = append(st.Regions, rs)
	}
	return st, nil
}

// Owned is how many regions this node serves now.
func (n *Node) Owned() int {
	c := 0
	for _, r := range n.cfg.Regions {
		if _, own := n.Local(r); own {
			c++
		}
	}
	return c
}

// Lag is, for each region this node follows as a standby, how many records its replica is behind the owner's
// last as the owner last reported it (from the latest snapshot).
func (n *Node) Lag() map[string]uint64 {
	snap, _ := n.current()
	out := map[string]uint64{}
	for _, region := range n.cfg.Regions {
		o, held := snap.owners[region]
		if !held || o == n.cfg.ID {
			continue
		}
		r := n.regions[region]
		s := r.state()
		if s.Role != RoleStandby {
			continue
		}
		for _, m := range snap.members {
			if m.ID == o {
				if os, ok := m.Replicas[region]; ok && os.Role == RoleOwner && os.Last > s.Position {
					out[region] = os.Last - s.Position
				} else {
					out[region] = 0
				}
			}
		}
	}
	return out
}
