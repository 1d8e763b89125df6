package load

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as a fake dispatchd for the spawn tests: with DISPATCHD_LOAD_FAKE_DAEMON set it serves
// the fake API on --addr instead of running the tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv("DISPATCHD_LOAD_FAKE_DAEMON"); mode != "" {
		os.Exit(fakeDaemon(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// fakeDaemon takes dispatchd's flags and behaves according to mode: "ok" serves until SIGTERM and then writes
// what it got to $DISPATCHD_LOAD_FAKE_MARK; "fail" exits at once with status 3; "deaf" ignores SIGTERM; "crash"
// exits with status 1 soon after being ready; "broken-setup" answers 500 to PUT /v1/stores.
func fakeDaemon(mode string, args []string) int {
	fs := flag.NewFlagSet("fake-dispatchd", flag.ContinueOnError)
	addr := fs.String("addr", "", "")
	dataDir := fs.String("data-dir", "", "")
	level := fs.String("log-level", "info", "")
	queue := fs.String("queue-size", "4096", "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if mode == "chatty" {
		for i := range 50 {
			fmt.Fprintf(os.Stderr, "fake dispatchd: line %d\n", i+1)
		}
	}
	if mode == "fail" {
		fmt.Fprintln(os.Stderr, "fake dispatchd: listen: address already in use")
		return 3
	}
	terms := make(chan os.Signal, 1)
	if mode == "deaf" {
		signal.Ignore(syscall.SIGTERM)
	} else {
		signal.Notify(terms, syscall.SIGTERM)
	}
	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	os.WriteFile(filepath.Join(*dataDir, "journal"), []byte("x"), 0o600)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	h := newFakeAPI(os.Getenv("DISPATCHD_ADMIN_TOKEN")).handler()
	if mode == "broken-setup" {
		api := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/v1/stores/") {
				writeFake(w, 500, `{"error":{"code":"internal","message":"internal error"}}`)
				return
			}
			api.ServeHTTP(w, r)
		})
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	if mode == "crash" {
		time.Sleep(200 * time.Millisecond)
		return 1
	}
	sig := <-terms
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	mark := fmt.Sprintf("signal=%v data-dir=%s log-level=%s queue-size=%s token=%s", sig, *dataDir, *level, *queue,
		os.Getenv("DISPATCHD_ADMIN_TOKEN"))
	if err := os.WriteFile(os.Getenv("DISPATCHD_LOAD_FAKE_MARK"), []byte(mark), 0o600); err != nil {
		return 1
	}
	return 0
}

// syncBuffer is a bytes.Buffer that the load generator and the child's output copier may write at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func noEnv(string) string { return "" }

// readJSON decodes the JSON file at path into a new T.
func readJSON[T any](t *testing.T, path string) *T {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &v
}

// TestRunAgainstFakeAPI runs the whole program, setup, a 1-second attack and the report, against an httptest
// server that checks every request the way the daemon would.
func TestRunAgainstFakeAPI(t *testing.T) {
	for _, tc := range []struct {
		mode, code string
		args       []string
	}{
		{"orders", "201", []string{"--rate", "100", "--stores", "5"}},
		{"locations", "204", []string{"--rate", "200", "--stores", "3", "--couriers", "20"}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			fake := newFakeAPI("admin-secret")
			srv := httptest.NewServer(fake.handler())
			defer srv.Close()
			out := filepath.Join(t.TempDir(), "report.json")
			var stdout, stderr syncBuffer
			args := append([]string{"--target", srv.URL, "--admin-token", "admin-secret", "--mode", tc.mode,
				"--duration", "1s", "--json", out}, tc.args...)
			if err := run(context.Background(), args, &stdout, &stderr, noEnv); err != nil {
				t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
			}
			checkFakeClean(t, fake)

			rep := readJSON[report](t, out)
			if rep.Mode != tc.mode || rep.Target != srv.URL || rep.Spawned || len(rep.Steps) != 1 {
				t.Fatalf("report %+v", rep)
			}
			st := rep.Steps[0]
			orders, locations, _, _ := fake.counts()
			accepted := orders
			if tc.mode == "locations" {
				accepted = locations
			}
			if st.Requests == 0 || st.Errors != 0 || st.OK != st.Requests || st.SuccessRatio != 1 {
				t.Errorf("step %+v: want requests, all of them ok", st)
			}
			if int(st.OK) != accepted {
				t.Errorf("the report counts %d ok, the server accepted %d", st.OK, accepted)
			}
			if len(st.StatusCodes) != 1 || st.StatusCodes[tc.code] != int(st.Requests) {
				t.Errorf("status codes %v, want only %s", st.StatusCodes, tc.code)
			}
			if !(st.P50MS > 0 && st.P50MS <= st.P90MS && st.P90MS <= st.P99MS && st.P99MS <= st.MaxMS) {
				t.Errorf("latencies p50 %v p90 %v p99 %v max %v are not ordered", st.P50MS, st.P90MS, st.P99MS, st.MaxMS)
			}
			if st.ThroughputPerS <= 0 || st.SentPerS <= 0 || st.DurationS <= 0 {
				t.Errorf("rates %+v", st)
			}
			perSecond := 0
			for _, s := range st.PerSecond {
				perSecond += s.Requests
				if s.Errors != 0 || s.MaxMS > st.MaxMS {
					t.Errorf("second %+v does not fit the step's figures", s)
				}
			}
			if perSecond != int(st.Requests) || st.MaxAtS < 0 || st.MaxAtS > st.DurationS {
				t.Errorf("per-second requests add up to %d of %d; max at %v s", perSecond, st.Requests, st.MaxAtS)
			}
			if got := stdout.String(); !strings.Contains(got, tc.code+":"+fmt.Sprint(st.Requests)) ||
				!strings.Contains(got, "rate/s") {
				t.Errorf("stdout lacks the table row:\n%s", got)
			}
		})
	}
}

// TestRunInterrupted checks that a Ctrl-C in the middle of a step ends it, reports it as interrupted and fails.
func TestRunInterrupted(t *testing.T) {
	fake := newFakeAPI("admin-secret")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	api := fake.handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/orders" {
			once.Do(cancel) // the first order: "Ctrl-C"
		}
		api.ServeHTTP(w, r)
	}))
	defer srv.Close()
	out := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr syncBuffer
	err := run(ctx, []string{"--target", srv.URL, "--admin-token", "admin-secret", "--sweep", "50,100", "--duration", "1m",
		"--json", out}, &stdout, &stderr, noEnv)
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("run: %v, want interrupted", err)
	}
	rep := readJSON[report](t, out)
	if len(rep.Steps) != 1 || !rep.Steps[0].Interrupted || rep.Steps[0].Sustained || rep.BestRate != 0 {
		t.Errorf("steps %+v: want the first one, interrupted", rep.Steps)
	}
	if !strings.Contains(stdout.String(), "interrupted") {
		t.Errorf("the table does not say interrupted:\n%s", stdout.String())
	}
}

// spawnEnv points the fake daemon's marker and the temporary directories at a fresh directory, so that the test can
// see what the child got and that nothing is left behind.
func spawnEnv(t *testing.T, mode string) (mark, tmp string) {
	t.Helper()
	tmp, mark = t.TempDir(), filepath.Join(t.TempDir(), "mark")
	t.Setenv("TMPDIR", tmp)
	t.Setenv("DISPATCHD_LOAD_FAKE_DAEMON", mode)
	t.Setenv("DISPATCHD_LOAD_FAKE_MARK", mark)
	return mark, tmp
}

func checkEmpty(t *testing.T, dir string) {
	t.Helper()
	if left, _ := os.ReadDir(dir); len(left) > 0 {
		t.Errorf("left behind in the temporary directory: %v", left)
	}
}

func self(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

func TestSpawn(t *testing.T) {
	t.Run("StopsWithOneSIGTERMAndCleansUp", func(t *testing.T) {
		mark, tmp := spawnEnv(t, "ok")
		var stderr syncBuffer
		d, err := startDaemon(context.Background(), daemonOptions{bin: self(t), extra: []string{"--queue-size=7"},
			readyTimeout: 30 * time.Second, stderr: &stderr})
		if err != nil {
			t.Fatalf("startDaemon: %v\n%s", err, stderr.String())
		}
		if !strings.HasPrefix(d.url, "http://127.0.0.1:") || !strings.HasPrefix(d.dir, tmp) || len(d.token) < 16 {
			t.Errorf("daemon %+v: want a loopback URL, a directory under TMPDIR and a token", d)
		}
		resp, err := http.Get(d.url + "/readyz")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /readyz: %v %v", resp, err)
		}
		resp.Body.Close()
		if err := d.stop(); err != nil {
			t.Fatalf("stop: %v", err)
		}
		if err := d.stop(); err != nil {
			t.Errorf("second stop: %v", err)
		}
		got, err := os.ReadFile(mark)
		if err != nil {
			t.Fatalf("the fake did not record its stop: %v", err)
		}
		for _, want := range []string{"signal=terminated", "log-level=warn", "queue-size=7", "token=" + d.token,
			"data-dir=" + filepath.Join(d.dir, "data")} {
			if !strings.Contains(string(got), want) {
				t.Errorf("the fake got %q, want %q", got, want)
			}
		}
		checkEmpty(t, tmp)
	})

	t.Run("KeepData", func(t *testing.T) {
		_, tmp := spawnEnv(t, "ok")
		var stderr syncBuffer
		d, err := startDaemon(context.Background(), daemonOptions{bin: self(t), keep: true, readyTimeout: 30 * time.Second, stderr: &stderr})
		if err != nil {
			t.Fatalf("startDaemon: %v", err)
		}
		if err := d.stop(); err != nil {
			t.Fatalf("stop: %v", err)
		}
		for _, f := range []string{"dispatchd.log", "data/journal"} {
			if _, err := os.Stat(filepath.Join(d.dir, f)); err != nil {
				t.Errorf("--keep-data: %v", err)
			}
		}
		if !strings.Contains(stderr.String(), d.dir) {
			t.Errorf("stderr does not name the kept directory:\n%s", stderr.String())
		}
		os.RemoveAll(tmp)
	})

	// The daemon is SIGKILLed and started again on the same directory, port and token, with more arguments.
	t.Run("KillAndRestart", func(t *testing.T) {
		mark, tmp := spawnEnv(t, "ok")
		var stderr syncBuffer
		d, err := startDaemon(context.Background(), daemonOptions{bin: self(t), readyTimeout: 30 * time.Second, stderr: &stderr})
		if err != nil {
			t.Fatalf("startDaemon: %v", err)
		}
		first := d.proc()
		if err := d.kill(); err != nil {
			t.Fatalf("kill: %v", err)
		}
		if exitErr, gone := d.exitedEarly(); !gone || exitErr == nil || !strings.Contains(exitErr.Error(), "killed") {
			t.Fatalf("after the kill: %v %v", exitErr, gone)
		}
		if _, err := os.Stat(mark); err == nil {
			t.Fatal("the killed fake had time to record a stop")
		}
		if err := d.kill(); err == nil {
			t.Error("a second kill of a dead process succeeded")
		}
		if err := d.restart(context.Background(), 30*time.Second, "--queue-size=3"); err != nil {
			t.Fatalf("restart: %v\n%s", err, stderr.String())
		}
		if d.proc() == first {
			t.Fatal("restart did not start a new process")
		}
		if err := d.restart(context.Background(), 30*time.Second); err == nil {
			t.Error("restart of a running daemon succeeded")
		}
		resp, err := http.Get(d.url + "/readyz")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /readyz after the restart: %v %v", resp, err)
		}
		resp.Body.Close()
		if err := d.stop(); err != nil {
			t.Fatalf("stop: %v", err)
		}
		got, err := os.ReadFile(mark)
		if err != nil || !strings.Contains(string(got), "queue-size=3") || !strings.Contains(string(got), "data-dir="+filepath.Join(d.dir, "data")) ||
			!strings.Contains(string(got), "token="+d.token) {
			t.Errorf("the restarted fake got %q (%v)", got, err)
		}
		checkEmpty(t, tmp)
	})

	// A long log is not passed on whole: its first lines, and how many there are.
	t.Run("LogIsSummarised", func(t *testing.T) {
		_, tmp := spawnEnv(t, "chatty")
		var stderr syncBuffer
		d, err := startDaemon(context.Background(), daemonOptions{bin: self(t), readyTimeout: 30 * time.Second, stderr: &stderr})
		if err != nil {
			t.Fatalf("startDaemon: %v", err)
		}
		if err := d.stop(); err != nil {
			t.Fatalf("stop: %v", err)
		}
		out := stderr.String()
		if !strings.Contains(out, "fake dispatchd: line 20\n") || strings.Contains(out, "line 21") ||
			!strings.Contains(out, "the daemon's log has 50 lines") {
			t.Errorf("stderr:\n%s", out)
		}
		checkEmpty(t, tmp)
	})

	t.Run("ExitsBeforeReady", func(t *testing.T) {
		_, tmp := spawnEnv(t, "fail")
		var stderr syncBuffer
		_, err := startDaemon(context.Background(), daemonOptions{bin: self(t), readyTimeout: 30 * time.Second, stderr: &stderr})
		if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "exit status 3") {
			t.Fatalf("startDaemon: %v, want the early exit and its status", err)
		}
		if !strings.Contains(stderr.String(), "address already in use") {
			t.Errorf("the daemon's own message is not passed on:\n%s", stderr.String())
		}
		checkEmpty(t, tmp)
	})

	t.Run("KilledWhenDeafToSIGTERM", func(t *testing.T) {
		_, tmp := spawnEnv(t, "deaf")
		var stderr syncBuffer
		d, err := startDaemon(context.Background(), daemonOptions{bin: self(t), readyTimeout: 30 * time.Second,
			stopTimeout: 200 * time.Millisecond, stderr: &stderr})
		if err != nil {
			t.Fatalf("startDaemon: %v", err)
		}
		if err := d.stop(); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("stop: %v, want killed", err)
		}
		checkEmpty(t, tmp)
	})

	t.Run("CrashIsReported", func(t *testing.T) {
		_, tmp := spawnEnv(t, "crash")
		var stderr syncBuffer
		d, err := startDaemon(context.Background(), daemonOptions{bin: self(t), readyTimeout: 30 * time.Second, stderr: &stderr})
		if err != nil {
			t.Fatalf("startDaemon: %v", err)
		}
		<-d.proc().exited
		if _, gone := d.exitedEarly(); !gone {
			t.Fatal("exitedEarly does not see the exit")
		}
		if err := d.stop(); err == nil || !strings.Contains(err.Error(), "exited before it was stopped") ||
			!strings.Contains(err.Error(), "exit status 1") {
			t.Fatalf("stop: %v, want the crash and its status", err)
		}
		checkEmpty(t, tmp)
	})

	// The daemon is stopped when the run fails after starting it.
	t.Run("StoppedWhenSetupFails", func(t *testing.T) {
		mark, tmp := spawnEnv(t, "broken-setup")
		var stdout, stderr syncBuffer
		err := run(context.Background(), []string{"--spawn", self(t), "--duration", "1s"}, &stdout, &stderr, noEnv)
		if err == nil || !strings.Contains(err.Error(), "setup") || !strings.Contains(err.Error(), "500") {
			t.Fatalf("run: %v, want the setup's 500", err)
		}
		if got, err := os.ReadFile(mark); err != nil || !strings.Contains(string(got), "signal=terminated") {
			t.Errorf("the daemon was not stopped with SIGTERM: %q %v", got, err)
		}
		checkEmpty(t, tmp)
	})

	t.Run("RunSweep", func(t *testing.T) {
		mark, tmp := spawnEnv(t, "ok")
		out := filepath.Join(t.TempDir(), "sweep.json")
		var stdout, stderr syncBuffer
		err := run(context.Background(), []string{"--spawn", self(t), "--mode", "locations", "--couriers", "5",
			"--stores", "2", "--sweep", "20,40", "--duration", "500ms", "--pause", "0s", "--json", out,
			"--daemon-arg=--queue-size=9"}, &stdout, &stderr, noEnv)
		if err != nil {
			t.Fatalf("run: %v\n%s", err, stderr.String())
		}
		rep := readJSON[report](t, out)
		if !rep.Spawned || len(rep.Steps) != 2 || rep.Steps[0].Rate != 20 || rep.Steps[1].Rate != 40 ||
			rep.DaemonExit != "stopped cleanly on SIGTERM" || len(rep.DaemonArgs) != 1 {
			t.Errorf("report %+v", rep)
		}
		for _, st := range rep.Steps {
			if st.Requests == 0 || st.Errors != 0 || st.StatusCodes["204"] != int(st.Requests) {
				t.Errorf("step %+v: want only 204s", st)
			}
		}
		if got, err := os.ReadFile(mark); err != nil || !strings.Contains(string(got), "queue-size=9") {
			t.Errorf("the daemon did not get --daemon-arg: %q %v", got, err)
		}
		checkEmpty(t, tmp)
	})
}
