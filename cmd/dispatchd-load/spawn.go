package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// defaultStopTimeout is how long a spawned daemon gets between SIGTERM and SIGKILL: more than dispatchd's
// default --shutdown-timeout (20s), so that a graceful stop that drains requests and writes its checkpoint can
// finish.
const defaultStopTimeout = 30 * time.Second

type daemonOptions struct {
	bin          string
	extra        []string
	keep         bool
	readyTimeout time.Duration
	// stopTimeout is the time between SIGTERM and SIGKILL; 0 is defaultStopTimeout.
	stopTimeout time.Duration
	stderr      io.Writer
}

// daemonProc is a dispatchd started by the load generator.
type daemonProc struct {
	url   string
	token string
	dir   string

	keep        bool
	stopTimeout time.Duration
	stderr      io.Writer
	cmd         *exec.Cmd
	log         *os.File
	echo        *lineCap
	// exited is closed when the process has ended; waitErr is then its exit status.
	exited  chan struct{}
	waitErr error

	stopOnce sync.Once
	stopErr  error
}

// startDaemon starts dispatchd on a free loopback port with a fresh data directory and a generated admin token,
// and waits until GET /readyz answers 200. On failure nothing is left running.
func startDaemon(ctx context.Context, o daemonOptions) (*daemonProc, error) {
	dir, err := os.MkdirTemp("", "dispatchd-load-")
	if err != nil {
		return nil, err
	}
	p := &daemonProc{dir: dir, keep: o.keep, stopTimeout: o.stopTimeout, stderr: o.stderr, exited: make(chan struct{}),
		token: "load_" + randomHex(24)}
	if p.stopTimeout <= 0 {
		p.stopTimeout = defaultStopTimeout
	}
	fail := func(err error) (*daemonProc, error) {
		if p.cmd != nil {
			err = errors.Join(err, p.stop())
		} else if !p.keep {
			os.RemoveAll(dir)
		}
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	p.url = "http://" + addr
	if p.log, err = os.Create(filepath.Join(dir, "dispatchd.log")); err != nil {
		return fail(err)
	}
	// The extra arguments come last: the flag package keeps the last value, so they may override these.
	args := append([]string{"--addr=" + addr, "--data-dir=" + filepath.Join(dir, "data"), "--log-level=warn"}, o.extra...)
	cmd := exec.Command(o.bin, args...)
	cmd.Env = append(os.Environ(), "DISPATCHD_ADMIN_TOKEN="+p.token)
	p.echo = &lineCap{w: o.stderr, left: echoLines, full: fmt.Sprintf(
		"dispatchd-load: further daemon output goes only to %s (kept with --keep-data)\n", p.log.Name())}
	cmd.Stdout = io.MultiWriter(p.echo, p.log)
	cmd.Stderr = cmd.Stdout
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		p.log.Close()
		return fail(fmt.Errorf("start %s: %w", o.bin, err))
	}
	p.cmd = cmd
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	if err := p.waitReady(ctx, o.readyTimeout); err != nil {
		return fail(err)
	}
	return p, nil
}

// waitReady polls GET /readyz until it answers 200, the process ends, ctx ends or the timeout passes.
func (p *daemonProc) waitReady(ctx context.Context, timeout time.Duration) error {
	// Its own transport, closed when done, so that no poll's connection is left to delay the daemon's shutdown.
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	client := &http.Client{Timeout: time.Second, Transport: transport}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	last := "no answer yet"
	for {
		resp, err := client.Get(p.url + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-p.exited:
			return fmt.Errorf("dispatchd exited before it was ready: %v", p.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("waiting for dispatchd to be ready: %w", ctx.Err())
		case <-deadline.C:
			return fmt.Errorf("dispatchd was not ready within %s (GET /readyz: %s)", timeout, last)
		case <-tick.C:
		}
	}
}

// exitedEarly reports whether the process has already ended, and how.
func (p *daemonProc) exitedEarly() (error, bool) {
	select {
	case <-p.exited:
		return p.waitErr, true
	default:
		return nil, false
	}
}

// stop sends SIGTERM (SIGKILL after p.stopTimeout), waits for the process and removes the data directory unless it
// is to be kept. It is safe to call more than once; the later calls return the first one's result. An error says
// that the daemon had already died, was killed, or exited with a failure status.
func (p *daemonProc) stop() error {
	p.stopOnce.Do(func() {
		if err, gone := p.exitedEarly(); gone {
			p.stopErr = fmt.Errorf("dispatchd had exited before it was stopped: %v", describeExit(err))
		} else {
			start := time.Now()
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				p.stopErr = fmt.Errorf("SIGTERM dispatchd: %w", err)
			}
			t := time.NewTimer(p.stopTimeout)
			select {
			case <-p.exited:
				if p.waitErr != nil {
					p.stopErr = fmt.Errorf("dispatchd exited with %v after SIGTERM", describeExit(p.waitErr))
				}
			case <-t.C:
				p.cmd.Process.Kill()
				<-p.exited
				p.stopErr = fmt.Errorf("dispatchd did not stop within %s of SIGTERM; killed", p.stopTimeout)
			}
			t.Stop()
			fmt.Fprintf(p.stderr, "dispatchd-load: daemon stopped in %s\n", time.Since(start).Round(time.Millisecond))
		}
		p.log.Close()
		if p.echo.dropped > 0 {
			fmt.Fprintf(p.stderr, "dispatchd-load: %d lines of daemon output were not shown\n", p.echo.dropped)
		}
		if p.keep {
			fmt.Fprintf(p.stderr, "dispatchd-load: kept the data directory %s (log: dispatchd.log)\n", p.dir)
		} else if err := os.RemoveAll(p.dir); err != nil {
			p.stopErr = errors.Join(p.stopErr, err)
		}
	})
	return p.stopErr
}

func describeExit(err error) string {
	if err == nil {
		return "status 0"
	}
	return err.Error()
}

// freePort asks the kernel for a free loopback port. Another process could take it before the daemon binds it;
// the daemon then fails to listen and startDaemon says so.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// echoLines is how many lines of the daemon's output are passed on to stderr. An overloaded daemon logs every 503
// at error level; thousands of such lines would bury the load generator's own output.
const echoLines = 20

// lineCap passes on the first left lines written to it, then says so once (full) and counts the lines it drops.
// Only the process's output copier writes to it; dropped is read after the process has been waited for.
type lineCap struct {
	w       io.Writer
	left    int
	full    string
	dropped int
}

func (c *lineCap) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && c.left > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.w.Write(p)
			return n, nil
		}
		c.w.Write(p[:i+1])
		p = p[i+1:]
		if c.left--; c.left == 0 {
			io.WriteString(c.w, c.full)
		}
	}
	c.dropped += bytes.Count(p, []byte{'\n'})
	return n, nil
}
