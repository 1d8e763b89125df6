// Package ckptstore keeps regions' checkpoints in a JetStream object store, so that a node taking a region over
// (or a new standby) starts from the latest checkpoint and replays only the journal after it.
//
// A checkpoint is an object named "<region>/<seq>" (seq zero-padded), its bytes streamed in chunks and checked by
// their SHA-256 digest when read. Latest is the one with the highest seq: a writer that lost its region and still
// puts an older checkpoint cannot hide a newer one, which matters because the new owner may have truncated the
// journal up to its own. Put deletes the region's older checkpoints once the new one is stored, keeping Keep of
// them.
package ckptstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrNone is Latest's answer for a region without a checkpoint.
var ErrNone = errors.New("ckptstore: no checkpoint")

// Config says where checkpoints go.
type Config struct {
	// Bucket is the object store (default "dispatchd-checkpoints"); Replicas its copies (default 3).
	Bucket   string
	Replicas int
	// Keep is how many checkpoints of a region Put leaves, the new one included (default 2: the one before stays
	// while standbys may still be reading it).
	Keep int
}

// Store is a node's handle on the bucket. Safe for concurrent use; it owns no goroutine.
type Store struct {
	cfg Config
	obs jetstream.ObjectStore
}

// Info describes a stored checkpoint.
type Info struct {
	Region string
	// Seq is the last journal record the checkpoint covers.
	Seq    uint64
	Size   uint64
	Digest string
	// Stored is when the servers stored it.
	Stored time.Time
}

// Open binds the bucket, creating it when missing. The connection stays the caller's.
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		cfg.Bucket = "dispatchd-checkpoints"
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 3
	}
	if cfg.Replicas < 1 || cfg.Replicas > 5 {
		return nil, fmt.Errorf("ckptstore: Replicas: %d is not between 1 and 5", cfg.Replicas)
	}
	if cfg.Keep == 0 {
		cfg.Keep = 2
	}
	if cfg.Keep < 1 {
		return nil, fmt.Errorf("ckptstore: Keep: %d, want at least 1", cfg.Keep)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("ckptstore: %w", err)
	}
	obs, err := js.ObjectStore(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		obs, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:      cfg.Bucket,
			Description: "dispatchd: regions' checkpoints",
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
		})
	}
	if err != nil {
		return nil, fmt.Errorf("ckptstore: bucket %s: %w", cfg.Bucket, err)
	}
	return &Store{cfg: cfg, obs: obs}, nil
}

// seqDigits pads seq in object names, so that names sort as numbers.
const seqDigits = 20

func objectName(region string, seq uint64) string {
	return fmt.Sprintf("%s/%0*d", region, seqDigits, seq)
}

// parseName splits an object name made by objectName; ok is false for any other.
func parseName(name string) (region string, seq uint64, ok bool) {
	i := strings.LastIndexByte(name, '/')
	if i <= 0 || len(name)-i-1 != seqDigits {
		return "", 0, false
	}
	seq, err := strconv.ParseUint(name[i+1:], 10, 64)
	if err != nil {
		return "", 0, false
	}
	return name[:i], seq, true
}

// Put stores region's checkpoint covering the journal up to seq, read from r to its end, and then deletes the
// region's older checkpoints beyond Keep. The checkpoint is Latest only once Put returned nil.
func (s *Store) Put(ctx context.Context, region string, seq uint64, r io.Reader) (Info, error) {
	if region == "" || strings.ContainsAny(region, "/ ") {
		return Info{}, fmt.Errorf("ckptstore: region %q: empty, or holds '/' or a space", region)
	}
	name := objectName(region, seq)
	oi, err := s.obs.Put(ctx, jetstream.ObjectMeta{Name: name,
		Metadata: map[string]string{"region": region, "seq": strconv.FormatUint(seq, 10)}}, r)
	if err != nil {
		// A Put that failed part way may have stored its description: take it away, so that Latest does not
		// offer an object whose chunks are missing (best effort; a reader also checks the digest).
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s.obs.Delete(dctx, name)
		cancel()
		return Info{}, fmt.Errorf("ckptstore: put %s: %w", name, err)
	}
	all, err := s.list(ctx, region)
	if err == nil && len(all) > s.cfg.Keep {
		for _, old := range all[:len(all)-s.cfg.Keep] {
			if old.Seq < seq {
				s.obs.Delete(ctx, objectName(region, old.Seq)) // best effort: the next Put tries again
			}
		}
	}
	return Info{Region: region, Seq: seq, Size: oi.Size, Digest: oi.Digest, Stored: oi.ModTime}, nil
}

// list is region's checkpoints, oldest first.
func (s *Store) list(ctx context.Context, region string) ([]Info, error) {
	objs, err := s.obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ckptstore: list: %w", err)
	}
	var out []Info
	for _, o := range objs {
		r, seq, ok := parseName(o.Name)
		if !ok || r != region || o.Deleted {
			continue
		}
		out = append(out, Info{Region: r, Seq: seq, Size: o.Size, Digest: o.Digest, Stored: o.ModTime})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, nil
}

// List is region's checkpoints, oldest first.
func (s *Store) List(ctx context.Context, region string) ([]Info, error) { return s.list(ctx, region) }

// Checkpoint is a checkpoint being read: Read returns its bytes, and an error at the end if they do not match
// their digest. Close it when done.
type Checkpoint struct {
	Info
	io.ReadCloser
}

// Latest opens region's checkpoint with the highest seq, or says ErrNone. ctx must last while the checkpoint is
// read.
func (s *Store) Latest(ctx context.Context, region string) (*Checkpoint, error) {
	all, err := s.list(ctx, region)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, ErrNone
	}
	info := all[len(all)-1]
	res, err := s.obs.Get(ctx, objectName(region, info.Seq))
	if err != nil {
		return nil, fmt.Errorf("ckptstore: get %s: %w", objectName(region, info.Seq), err)
	}
	return &Checkpoint{Info: info, ReadCloser: res}, nil
}

// RegionStore is the store bound to one region: what a region's daemon keeps its checkpoints in (it has the
// method set of daemon.CheckpointStore, which this package does not import).
type RegionStore struct {
	s      *Store
	region string
}

// Region binds the store to region.
func (s *Store) Region(region string) *RegionStore { return &RegionStore{s: s, region: region} }

// Region is the region's name.
func (r *RegionStore) Region() string { return r.region }

// Put stores the region's checkpoint covering the journal up to seq (Store.Put).
func (r *RegionStore) Put(ctx context.Context, seq uint64, rd io.Reader) error {
	_, err := r.s.Put(ctx, r.region, seq, rd)
	return err
}

// Before opens the region's newest checkpoint below seq; ok is false (rc nil, err nil) when it has none. A standby
// whose event log ends before the latest checkpoint's events opens an older one, to make the events in between
// again from the stream (the owner truncates the stream only up to the checkpoint before its latest).
func (r *RegionStore) Before(ctx context.Context, seq uint64) (older uint64, rc io.ReadCloser, ok bool, err error) {
	all, err := r.s.list(ctx, r.region)
	if err != nil {
		return 0, nil, false, err
	}
	for _, info := range slices.Backward(all) {
		if info.Seq >= seq {
			continue
		}
		res, err := r.s.obs.Get(ctx, objectName(r.region, info.Seq))
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			continue // deleted since the listing (a newer Put keeps the last two)
		}
		if err != nil {
			return 0, nil, false, fmt.Errorf("ckptstore: get %s: %w", objectName(r.region, info.Seq), err)
		}
		return info.Seq, &Checkpoint{Info: info, ReadCloser: res}, true, nil
	}
	return 0, nil, false, nil
}

// Latest opens the region's newest checkpoint; ok is false (rc nil, err nil) when it has none. ctx must last while
// the checkpoint is read; close rc when done.
func (r *RegionStore) Latest(ctx context.Context) (seq uint64, rc io.ReadCloser, ok bool, err error) {
	c, err := r.s.Latest(ctx, r.region)
	if errors.Is(err, ErrNone) {
		return 0, nil, false, nil
	}
	if err != nil {
		return 0, nil, false, err
	}
	return c.Seq, c, true, nil
}
