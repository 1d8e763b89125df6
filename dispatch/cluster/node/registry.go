package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Member is a node as the registry holds it: a lease names its owner by id, the registry says where that node
// answers.
type Member struct {
	ID string `json:"id"`
	// URL is the node's advertised HTTP address, where other nodes forward requests for its regions.
	URL string `json:"url"`
	// Started is when the node started (its clock).
	Started time.Time `json:"started"`
	// Draining says the node is giving its regions away (Drain) and takes no more: others do not count it when
	// they share the regions out.
	Draining bool `json:"draining,omitempty"`
	// CatchingUp says the node's replicas have not all read their streams yet (Node.Ready): a node that just
	// started is given no region until it can serve it.
	CatchingUp bool `json:"catching_up,omitempty"`
	// Replicas are the node's replicas by region, as of its last heartbeat.
	Replicas map[string]ReplicaState `json:"replicas,omitempty"`

	// Revision is the entry's revision in the bucket (it changes at each heartbeat).
	Revision uint64 `json:"-"`
	// Silent says the entry has not changed for longer than a node heartbeats (as the reading node's clock
	// counts, from when it saw the revision change): the node is dead or cut off, though still listed until the
	// bucket's TTL removes it. A silent node is not counted when the regions are shared out.
	Silent bool `json:"-"`
}

// registry is the node registry: one key per node in a key-value bucket whose time to live removes a node that
// stopped heartbeating. Alive means listed.
type registry struct {
	kv jetstream.KeyValue
}

// openRegistry binds the bucket, creating it with ttl when missing (an existing bucket keeps its own TTL: every
// node of a cluster should run with the same lease TTL, from which ttl is derived).
func openRegistry(ctx context.Context, nc *nats.Conn, bucket string, replicas int, ttl time.Duration) (*registry, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("node: registry: %w", err)
	}
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      bucket,
			Description: "dispatchd: the nodes of the cluster and where they answer",
			History:     1,
			TTL:         ttl,
			Storage:     jetstream.FileStorage,
			Replicas:    replicas,
		})
	}
	if err != nil {
		return nil, fmt.Errorf("node: registry bucket %s: %w", bucket, err)
	}
	return &registry{kv: kv}, nil
}

// put writes (or refreshes) m's entry.
func (r *registry) put(ctx context.Context, m Member) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if _, err := r.kv.Put(ctx, m.ID, b); err != nil {
		return fmt.Errorf("node: registry: %s: %w", m.ID, err)
	}
	return nil
}

// remove deletes id's entry (a node that stops says so rather than waiting for the TTL).
func (r *registry) remove(ctx context.Context, id string) error {
	if err := r.kv.Delete(ctx, id); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("node: registry: remove %s: %w", id, err)
	}
	return nil
}

// get is id's entry; ok false when the node is not listed.
func (r *registry) get(ctx context.Context, id string) (Member, bool, error) {
	e, err := r.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return Member{}, false, nil
	}
	if err != nil {
		return Member{}, false, fmt.Errorf("node: registry: %s: %w", id, err)
	}
	var m Member
	if err := json.Unmarshal(e.Value(), &m); err != nil {
		return Member{}, false, fmt.Errorf("node: registry: %s: %w", id, err)
	}
	m.ID, m.Revision = id, e.Revision()
	return m, true, nil
}

// list is every node alive (listed), by id.
func (r *registry) list(ctx context.Context) ([]Member, error) {
	keys, err := r.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("node: registry: list: %w", err)
	}
	defer keys.Stop()
	var out []Member
	for k := range keys.Keys() {
		e, err := r.kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			continue // expired or removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("node: registry: %s: %w", k, err)
		}
		var m Member
		if err := json.Unmarshal(e.Value(), &m); err != nil {
			return nil, fmt.Errorf("node: registry: %s: %w", k, err)
		}
		m.ID, m.Revision = k, e.Revision()
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
