package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch/daemon"
	"github.com/o2o-dispatch/dispatchd/dispatch/httpapi"
	"github.com/o2o-dispatch/dispatchd/dispatch/journal"
)

// fullDisk is a journal segment on a disk that fills up: while full is set, a write stores half of what it is
// given and fails with ENOSPC, as a file system that runs out of blocks part way through does.
type fullDisk struct {
	journal.File
	full *atomic.Bool
}

func (f fullDisk) Write(p []byte) (int, error) {
	if f.full.Load() {
		n, _ := f.File.Write(p[:len(p)/2])
		return n, &os.PathError{Op: "write", Path: "segment", Err: syscall.ENOSPC}
	}
	return f.File.Write(p)
}

const adminToken = "admin-token-for-full-disk-test"

type server struct {
	t    *testing.T
	srv  *httptest.Server
	d    *daemon.Daemon
	stop func() error
}

func serve(t *testing.T, dir string, full *atomic.Bool, failCommit func() error) *server {
	t.Helper()
	cfg := daemon.DefaultConfig()
	cfg.DataDir, cfg.DispatchInterval = dir, time.Hour
	cfg.WrapJournalFile = func(f journal.File) journal.File { return fullDisk{f, full} }
	cfg.FailCommit = failCommit
	d, err := daemon.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	srv := httptest.NewServer(httpapi.New(d, httpapi.Config{AdminToken: adminToken, Metrics: http.NotFoundHandler()}).Handler())
	var once sync.Once
	var runErr error
	s := &server{t: t, srv: srv, d: d, stop: func() error {
		once.Do(func() {
			d.StopStreams()
			srv.Close()
			cancel()
			runErr = <-done
		})
		return runErr
	}}
	t.Cleanup(func() { s.stop() })
	return s
}

func (s *server) call(method, path, token, body string, hdr ...string) (int, http.Header, []byte) {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func (s *server) orderIDs(key string) (ids, external []string) {
	s.t.Helper()
	status, _, body := s.call("GET", "/v1/orders?limit=500", key, "")
	var list struct {
		Orders []struct {
			ID         string `json:"id"`
			ExternalID string `json:"external_id"`
		} `json:"orders"`
	}
	if err := json.Unmarshal(body, &list); status != 200 || err != nil {
		s.t.Fatalf("list orders: %d %s", status, body)
	}
	for _, o := range list.Orders {
		ids, external = append(ids, o.ID), append(external, o.ExternalID)
	}
	slices.Sort(ids)
	return ids, external
}

// TestFullDiskOverHTTP fills the disk under a running daemon: order placements get 503 with Retry-After and the
// unavailable code, reads keep working, the daemon says it is not ready, and none of the refused orders is there
// after a restart with room on the disk (the journal cut the failed commit off), while every accepted one is.
func TestFullDiskOverHTTP(t *testing.T) {
	dir := t.TempDir()
	var full atomic.Bool
	// The disk fills under a commit of several orders: one commit is held while they queue behind it, and the disk
	// is full from the next commit on (a short write of that batch leaves whole records of it behind).
	var stage atomic.Int32
	held, release := make(chan struct{}), make(chan struct{})
	s := serve(t, dir, &full, func() error {
		switch stage.Load() {
		case 1:
			stage.Store(2)
			close(held)
			<-release
		case 2:
			stage.Store(0)
			full.Store(true)
		}
		return nil
	})
	if st, _, b := s.call("PUT", "/v1/stores/s1", adminToken, `{"location":{"lat":31.2304,"lon":121.4737}}`); st != 201 {
		t.Fatalf("store: %d %s", st, b)
	}
	_, _, b := s.call("POST", "/v1/api-keys", adminToken, `{"name":"shop"}`)
	var k struct{ Key string }
	json.Unmarshal(b, &k)
	order := func(ext string) string {
		return fmt.Sprintf(`{"store_id":"s1","external_id":%q,"dropoff":{"lat":31.24,"lon":121.48}}`, ext)
	}
	for i := range 3 {
		if st, _, b := s.call("POST", "/v1/orders", k.Key, order(fmt.Sprintf("accepted-%d", i))); st != 201 {
			t.Fatalf("order before the disk filled: %d %s", st, b)
		}
	}
	accepted, _ := s.orderIDs(k.Key)

	stage.Store(1)
	keyDone := make(chan int, 1)
	go func() {
		st, _, _ := s.call("POST", "/v1/api-keys", adminToken, `{"name":"held"}`)
		keyDone <- st
	}()
	<-held
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, hdr, b := s.call("POST", "/v1/orders", k.Key, order(fmt.Sprintf("refused-%d", i)), "Idempotency-Key", fmt.Sprintf("r%d", i))
			var e struct{ Error struct{ Code string } }
			json.Unmarshal(b, &e)
			if st != 503 || hdr.Get("Retry-After") == "" || e.Error.Code != "unavailable" {
				t.Errorf("order on a full disk: %d Retry-After %q %s, want 503 with Retry-After and code unavailable", st, hdr.Get("Retry-After"), b)
			}
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); s.d.JournalPending() < 6; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d orders queued behind the held commit, want 6", s.d.JournalPending())
		}
	}
	close(release)
	wg.Wait()
	if st := <-keyDone; st != 201 {
		t.Fatalf("the change committed before the disk filled: %d, want 201", st)
	}
	// Reads go on from the last durable state; the daemon is not ready (the journal needs a restart).
	if ids, _ := s.orderIDs(k.Key); !slices.Equal(ids, accepted) {
		t.Fatalf("orders readable on a full disk: %v, want the %v accepted before", ids, accepted)
	}
	if st, _, b := s.call("GET", "/v1/orders/"+accepted[0], k.Key, ""); st != 200 {
		t.Fatalf("read an order on a full disk: %d %s", st, b)
	}
	if st, _, _ := s.call("GET", "/readyz", "", ""); st != 503 {
		t.Fatalf("readyz with a failed journal: %d, want 503", st)
	}
	// Room again: still refused until a restart (after a failed write the daemon's memory is ahead of its disk).
	full.Store(false)
	if st, _, b := s.call("POST", "/v1/orders", k.Key, order("refused-after")); st != 503 {
		t.Fatalf("order after room came back, before a restart: %d %s, want 503", st, b)
	}
	if err := s.stop(); err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("stop after the disk filled: %v, want the journal's error", err)
	}

	s = serve(t, dir, &full, nil)
	ids, external := s.orderIDs(k.Key)
	if !slices.Equal(ids, accepted) {
		t.Fatalf("orders after a restart: %v %v, want exactly the %v accepted before the disk filled", ids, external, accepted)
	}
	// A refused order retried with its idempotency key is placed now, once.
	for range 2 {
		if st, _, b := s.call("POST", "/v1/orders", k.Key, order("refused-0"), "Idempotency-Key", "r0"); st != 201 {
			t.Fatalf("retry of a refused order after the restart: %d %s", st, b)
		}
	}
	if ids, _ := s.orderIDs(k.Key); len(ids) != len(accepted)+1 {
		t.Fatalf("%d orders after retrying a refused one twice, want %d", len(ids), len(accepted)+1)
	}
	if st, _, _ := s.call("GET", "/readyz", "", ""); st != 200 {
		t.Fatalf("readyz after the restart: %d", st)
	}
}
