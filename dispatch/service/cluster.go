package service

import "time"

// ClusterStatus is GET /v1/cluster: the nodes of a cluster and who serves each region, as the answering node
// sees them (the leases and the node registry, read when asked; other nodes' replicas as of their last
// heartbeat, within half a lease).
type ClusterStatus struct {
	// Node is the node that answered.
	Node string `json:"node"`
	// At is when it read the leases and the registry.
	At      time.Time       `json:"at"`
	Nodes   []ClusterNode   `json:"nodes"`
	Regions []ClusterRegion `json:"regions"`
}

// ClusterNode is a node of the cluster.
type ClusterNode struct {
	ID string `json:"id"`
	// URL is where the node answers (requests for its regions are forwarded there); empty for a node only a lease
	// still names.
	URL string `json:"url,omitempty"`
	// Alive says the node is in the registry (it heartbeats); a node that holds a lease without being alive is
	// about to lose it.
	Alive bool `json:"alive"`
	// Draining says the node is giving its regions away and takes none.
	Draining bool `json:"draining,omitempty"`
	// Started is when the node started.
	Started *time.Time `json:"started,omitempty"`
}

// ClusterRegion is a region: its owner and lease, its journal on the owner, and every node's replica of it.
type ClusterRegion struct {
	Region string `json:"region"`
	// Owner is the node holding the lease (empty: nobody, a failover is under way); Epoch the lease's epoch and
	// LeaseExpires when it runs out unless renewed (by the owner's clock).
	Owner        string     `json:"owner,omitempty"`
	Epoch        uint64     `json:"epoch,omitempty"`
	LeaseExpires *time.Time `json:"lease_expires,omitempty"`
	// Journal is the region's journal as the owner writes it (missing when the owner has not reported it yet).
	Journal *ClusterJournal `json:"journal,omitempty"`
	// Replicas are the nodes' replicas of the region, by node id.
	Replicas []ClusterReplica `json:"replicas"`
}

// ClusterJournal is a region's journal on its owner.
type ClusterJournal struct {
	// LastSeq is the last record appended; DurableSeq the last stored by a quorum of the stream's servers.
	LastSeq    uint64 `json:"last_seq"`
	DurableSeq uint64 `json:"durable_seq"`
}

// ClusterReplica is one node's replica of a region.
type ClusterReplica struct {
	Node string `json:"node"`
	// Role is owner, standby, opening (recovering from a checkpoint), promoting or stopping.
	Role string `json:"role"`
	// Position is the last journal record the replica's state includes; Lag how many records it is behind the
	// owner's last (0 on the owner).
	Position uint64 `json:"position"`
	Lag      uint64 `json:"lag"`
}
