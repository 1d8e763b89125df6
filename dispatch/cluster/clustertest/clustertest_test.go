package clustertest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// A stream replicated three times takes writes, keeps them while one server is down, and the server that comes
// back has the ones it missed.
func TestClusterReplicatesAndRestarts(t *testing.T) {
	c := Start(t, 3)
	js, err := jetstream.New(c.Connect())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t"}, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "t", []byte("1")); err != nil {
		t.Fatal(err)
	}
	down := (c.StreamLeader("T") + 1) % 3 // a follower
	c.Stop(down)
	if _, err := js.Publish(ctx, "t", []byte("2")); err != nil {
		t.Fatalf("publish with one server down: %v", err)
	}
	if st, ok := c.LocalStream(down, "T"); ok {
		t.Fatalf("a stopped server reports a replica: %+v", st)
	}
	c.Restart(down)
	// The restarted server's own replica (not the leader's answer) gets the message it missed.
	c.WaitLocal(down, "T", func(st server.StreamState) bool { return st.Msgs == 2 && st.LastSeq == 2 })
}
