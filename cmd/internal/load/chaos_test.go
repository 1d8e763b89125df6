package load

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// echoServer accepts connections on loopback and echoes what it reads, until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// roundTrip writes msg on c and reads it back; an error says the connection did not carry it.
func roundTrip(c net.Conn, msg string) error {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != msg {
		return errors.New("echoed " + string(buf))
	}
	return nil
}

// The proxy carries a connection, closes it when cut and refuses new ones while cut, and carries new ones
// again once opened: what the chaos mode relies on to cut a node off from NATS.
func TestProxyCut(t *testing.T) {
	p, err := newProxy(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	addr := strings.TrimPrefix(p.url(), "nats://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := roundTrip(c, "before"); err != nil {
		t.Fatalf("through the open proxy: %v", err)
	}
	p.setCut(true)
	if err := roundTrip(c, "during"); err == nil {
		t.Fatal("a connection made before the cut still carries data after it")
	}
	c2, err := net.Dial("tcp", addr)
	if err == nil {
		defer c2.Close()
		if roundTrip(c2, "new") == nil {
			t.Fatal("a connection made during the cut carries data")
		}
	}
	p.setCut(false)
	c3, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if err := roundTrip(c3, "after"); err != nil {
		t.Fatalf("through the proxy opened again: %v", err)
	}
}

func TestRegionOfBody(t *testing.T) {
	for body, want := range map[string]string{
		`{"store_id":"chaos-north-store-3"}`:      "north",
		`{"store_id":"chaos-far-east-store-12"}`:  "far-east",
		`{"store_id":"load-store-3"}`:             "",
		`{"store_id":"chaos-store-3"}`:            "",
		`not json`:                                "",
		`{"store_id":"chaos-west-store-1","x":1}`: "west",
	} {
		if got := regionOfBody([]byte(body)); got != want {
			t.Errorf("regionOfBody(%s) = %q, want %q", body, got, want)
		}
	}
}

func TestChaosFlags(t *testing.T) {
	getenv := func(string) string { return "" }
	cfg, err := ParseFlags([]string{"--spawn", "/bin/true", "--mode", "chaos", "--seed", "7"}, io.Discard, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.drive.kills != 20 || cfg.drive.seed != 7 || cfg.rates[0] != 50 || len(cfg.chaos.regions) != 4 || cfg.chaos.leaseTTL != 3*time.Second {
		t.Errorf("chaos defaults: kills %d, seed %d, rate %v, regions %v, lease %s", cfg.drive.kills, cfg.drive.seed, cfg.rates,
			cfg.chaos.regions, cfg.chaos.leaseTTL)
	}
	for args, want := range map[string]string{
		"--mode chaos": "--spawn",
		"--mode chaos --spawn x --lease-ttl 100ms":   "--lease-ttl",
		"--mode chaos --spawn x --kills 0":           "--kills",
		"--mode chaos --spawn x --target http://h:1": "exclude",
	} {
		_, err := ParseFlags(strings.Fields(args), io.Discard, getenv)
		if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want a usage error naming %s", args, err, want)
		}
	}
}

// TestChaosShort is the chaos mode with three kills against a real cluster: bin/nats-server (make
// install-nats-server) and dispatchd built from this tree. It takes two to three minutes on a small machine, so
// it runs only when DISPATCHD_CHAOS=1.
func TestChaosShort(t *testing.T) {
	if os.Getenv("DISPATCHD_CHAOS") != "1" {
		t.Skip("the chaos run takes minutes: DISPATCHD_CHAOS=1 runs it (needs bin/nats-server: make install-nats-server)")
	}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	natsBin := filepath.Join(root, "bin", "nats-server")
	if _, err := os.Stat(natsBin); err != nil {
		t.Skipf("no %s: make install-nats-server", natsBin)
	}
	bin := filepath.Join(t.TempDir(), "dispatchd")
	build := exec.Command("go", "build", "-o", bin, "./cmd/dispatchd")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build dispatchd: %v\n%s", err, out)
	}
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	err = run(ctx, []string{"--spawn", bin, "--mode", "chaos", "--nats-server", natsBin, "--kills", "3", "--rate", "20",
		"--stores", "16", "--couriers", "16", "--seed", "19"}, &stdout, &stderr, func(string) string { return "" })
	t.Logf("report:\n%s", stdout.String())
	if err != nil {
		t.Fatalf("chaos run: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "verdict: no violation") {
		t.Errorf("no clean verdict in the report")
	}
}
