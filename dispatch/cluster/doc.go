// Package cluster is the home of dispatchd's cluster substrate on NATS JetStream (docs/cluster.md): a region's
// journal on a replicated stream (jsjournal), the lease that says which node writes it (lease), its checkpoints
// (ckptstore), and a three-server cluster for tests (clustertest). A region's owner acquires the lease, opens the
// journal with the lease's epoch (which fences off the previous writer), replays from the latest checkpoint, and
// stops writing when the lease is lost; standbys follow the stream (jsjournal.Follower).
package cluster
