package ckptstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/o2o-dispatch/dispatchd/dispatch/cluster/clustertest"
)

var ctxT = clustertest.Context

func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func readLatest(t *testing.T, s *Store, region string) (Info, []byte) {
	t.Helper()
	cp, err := s.Latest(ctxT(t), region)
	if err != nil {
		t.Fatalf("latest %s: %v", region, err)
	}
	defer cp.Close()
	b, err := io.ReadAll(cp)
	if err != nil {
		t.Fatalf("read %s: %v", region, err)
	}
	return cp.Info, b
}

// A checkpoint put by one node comes back whole, with its sequence number, to another (a node starting on the
// region); the latest is the one with the highest sequence number, whatever the order of the puts; older ones
// beyond Keep go.
func TestCheckpointRoundTrip(t *testing.T) {
	c := clustertest.Start(t, 3)
	ctx := ctxT(t)
	writer, err := Open(ctx, c.Connect(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	reader, err := Open(ctx, c.Connect(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reader.Latest(ctx, "east"); !errors.Is(err, ErrNone) {
		t.Fatalf("latest of a region without checkpoints: %v", err)
	}
	big := payload(1, 3<<20) // several chunks
	if _, err := writer.Put(ctx, "east", 1200, bytes.NewReader(big)); err != nil {
		t.Fatal(err)
	}
	info, got := readLatest(t, reader, "east")
	if info.Seq != 1200 || info.Region != "east" || !bytes.Equal(got, big) || info.Size != uint64(len(big)) {
		t.Fatalf("round trip: %+v, %d bytes (equal %v)", info, len(got), bytes.Equal(got, big))
	}
	// A stale writer's older checkpoint, put later, does not become the latest.
	if _, err := writer.Put(ctx, "east", 900, bytes.NewReader(payload(2, 100))); err != nil {
		t.Fatal(err)
	}
	if info, _ := readLatest(t, reader, "east"); info.Seq != 1200 {
		t.Fatalf("latest after an older put: %d", info.Seq)
	}
	newer := payload(3, 1000)
	if _, err := writer.Put(ctx, "east", 1500, bytes.NewReader(newer)); err != nil {
		t.Fatal(err)
	}
	if info, got := readLatest(t, reader, "east"); info.Seq != 1500 || !bytes.Equal(got, newer) {
		t.Fatalf("latest after a newer put: %d", info.Seq)
	}
	// Another region is apart.
	if _, err := reader.Latest(ctx, "west"); !errors.Is(err, ErrNone) {
		t.Fatalf("latest of west: %v", err)
	}
	list, err := reader.List(ctx, "east")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Seq != 1200 || list[1].Seq != 1500 {
		t.Fatalf("kept %+v, want 1200 and 1500", list)
	}
}

func TestBadRegionIsRefused(t *testing.T) {
	s := &Store{}
	if _, err := s.Put(context.Background(), "a/b", 1, bytes.NewReader(nil)); err == nil {
		t.Fatal("a region with a slash was accepted")
	}
}

// A store bound to a region puts and reads that region's checkpoints only, and says "none" without an error for a
// region that has none (what a daemon opening a new region sees).
func TestRegionStore(t *testing.T) {
	c := clustertest.Start(t, 3)
	ctx := ctxT(t)
	s, err := Open(ctx, c.Connect(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	east, west := s.Region("east"), s.Region("west")
	if east.Region() != "east" {
		t.Fatalf("Region() = %q", east.Region())
	}
	if seq, rc, ok, err := east.Latest(ctx); err != nil || ok || rc != nil || seq != 0 {
		t.Fatalf("latest of an empty region: %d %v %v %v", seq, rc, ok, err)
	}
	body := payload(4, 5000)
	if err := east.Put(ctx, 42, bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	seq, rc, ok, err := east.Latest(ctx)
	if err != nil || !ok || seq != 42 {
		t.Fatalf("latest of east: %d %v %v", seq, ok, err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("east's checkpoint read back: %d bytes, %v", len(got), err)
	}
	if _, _, ok, err := west.Latest(ctx); ok || err != nil {
		t.Fatalf("west sees east's checkpoint: %v %v", ok, err)
	}
	if err := s.Region("a b").Put(ctx, 1, bytes.NewReader(nil)); err == nil {
		t.Fatal("a region with a space was accepted")
	}
}
