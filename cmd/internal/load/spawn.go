package load

import (
	"bufio"
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
	"slices"
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
	// addr is the loopback address to listen on (empty: a free port) and token the admin token (empty: a new
	// one): the nodes of a cluster are told each other's addresses and share one token.
	addr  string
	token string
}

// daemonProc is a dispatchd started by the load generator: one data directory, port and admin token, and one
// process at a time on them (the crash mode kills it and starts another).
type daemonProc struct {
	url   string
	token string
	dir   string

	bin         string
	args        []string
	keep        bool
	stopTimeout time.Duration
	stderr      io.Writer
	log         *os.File

	// mu guards cur, which a restart replaces.
	mu  sync.Mutex
	cur *process

	stopOnce sync.Once
	stopErr  error
}

// process is one run of the daemon's binary.
type process struct {
	cmd *exec.Cmd
	// exited is closed when the process has ended; waitErr is then its exit status.
	exited  chan struct{}
	waitErr error
}

// startDaemon starts dispatchd on a free loopback port with a fresh data directory and a generated admin token,
// and waits until GET /readyz answers 200. On failure nothing is left running.
func startDaemon(ctx context.Context, o daemonOptions) (*daemonProc, error) {
	dir, err := os.MkdirTemp("", "dispatchd-load-")
	if err != nil {
		return nil, err
	}
	p := &daemonProc{dir: dir, bin: o.bin, keep: o.keep, stopTimeout: o.stopTimeout, stderr: o.stderr,
		token: o.token}
	if p.token == "" {
		p.token = "load_" + randomHex(24)
	}
	if p.stopTimeout <= 0 {
		p.stopTimeout = defaultStopTimeout
	}
	fail := func(err error) (*daemonProc, error) {
		if p.log != nil {
			// What the daemon said is the likeliest explanation of the failure.
			p.showLog()
		}
		if p.proc() != nil {
			err = errors.Join(err, p.stop())
		} else if !p.keep {
			os.RemoveAll(dir)
		}
		return nil, err
	}
	addr := o.addr
	if addr == "" {
		port, err := freePort()
		if err != nil {
			return fail(err)
		}
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	}
	p.url = "http://" + addr
	if p.log, err = os.Create(filepath.Join(dir, "dispatchd.log")); err != nil {
		return fail(err)
	}
	// The extra arguments come last: the flag package keeps the last value, so they may override these.
	p.args = append([]string{"--addr=" + addr, "--data-dir=" + filepath.Join(dir, "data"), "--log-level=warn"}, o.extra...)
	if err := p.launch(); err != nil {
		p.log.Close()
		return fail(err)
	}
	if err := p.waitReady(ctx, o.readyTimeout); err != nil {
		return fail(err)
	}
	return p, nil
}

// launch starts the binary on the daemon's directory and port, with more arguments after the usual ones.
func (p *daemonProc) launch(more ...string) error {
	cmd := exec.Command(p.bin, append(slices.Clip(p.args), more...)...)
	cmd.Env = append(os.Environ(), "DISPATCHD_ADMIN_TOKEN="+p.token)
	// The process writes its log to the file itself, not to a pipe that this program would copy: when the load
	// generator is short of CPU, a full pipe would block the daemon's every log write, and an overloaded daemon
	// logs every 503. Every run of the process writes to the same file, one after the other.
	pr, err := startProcess(cmd, p.log)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.cur = pr
	p.mu.Unlock()
	return nil
}

// startProcess starts cmd with its output to log; the process's exited closes when it ends (a goroutine waits
// for it).
func startProcess(cmd *exec.Cmd, log *os.File) (*process, error) {
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	pr := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		pr.waitErr = cmd.Wait()
		close(pr.exited)
	}()
	return pr, nil
}

// proc is the current process (nil before the first start).
func (p *daemonProc) proc() *process {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

// waitReady polls GET /readyz until it answers 200, the process ends, ctx ends or the timeout passes.
func (p *daemonProc) waitReady(ctx context.Context, timeout time.Duration) error {
	pr := p.proc()
	// Its own transport, closed when done, so that no poll's connection is left to delay the daemon's shutdown.
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	client := &http.Client{Timeout: time.Second, Transport: transport}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
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
		case <-pr.exited:
			return fmt.Errorf("dispatchd exited before it was ready: %v", pr.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("waiting for dispatchd to be ready: %w", ctx.Err())
		case <-deadline.C:
			return fmt.Errorf("dispatchd was not ready within %s (GET /readyz: %s)", timeout, last)
		case <-tick.C:
		}
	}
}

// exitedEarly reports whether the current process has already ended, and how.
func (p *daemonProc) exitedEarly() (error, bool) {
	pr := p.proc()
	select {
	case <-pr.exited:
		return pr.waitErr, true
	default:
		return nil, false
	}
}

// kill ends the current process with SIGKILL, as a power cut would, and waits for it: nothing it had not yet
// written to disk survives. It is an error if the process had already ended.
func (p *daemonProc) kill() error {
	pr := p.proc()
	select {
	case <-pr.exited:
		return fmt.Errorf("dispatchd had exited before the kill: %v", describeExit(pr.waitErr))
	default:
	}
	if err := pr.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("SIGKILL dispatchd: %w", err)
	}
	<-pr.exited
	return nil
}

// restart starts the daemon again on the same data directory, port and token (the current process must have
// ended) and waits until it is ready; more arguments go after the usual ones.
func (p *daemonProc) restart(ctx context.Context, timeout time.Duration, more ...string) error {
	if _, gone := p.exitedEarly(); !gone {
		return errors.New("restart: dispatchd is still running")
	}
	if err := p.launch(more...); err != nil {
		return err
	}
	return p.waitReady(ctx, timeout)
}

// terminate stops the current process with SIGTERM (SIGKILL after p.stopTimeout) and waits for it, keeping the
// data directory. An error says that it had already died, was killed, or exited with a failure status.
func (p *daemonProc) terminate() error {
	pr := p.proc()
	if err, gone := p.exitedEarly(); gone {
		return fmt.Errorf("dispatchd had exited before it was stopped: %v", describeExit(err))
	}
	start := time.Now()
	var err error
	if serr := pr.cmd.Process.Signal(syscall.SIGTERM); serr != nil {
		err = fmt.Errorf("SIGTERM dispatchd: %w", serr)
	}
	t := time.NewTimer(p.stopTimeout)
	defer t.Stop()
	select {
	case <-pr.exited:
		if pr.waitErr != nil {
			err = fmt.Errorf("dispatchd exited with %v after SIGTERM", describeExit(pr.waitErr))
		}
	case <-t.C:
		pr.cmd.Process.Kill()
		<-pr.exited
		err = fmt.Errorf("dispatchd did not stop within %s of SIGTERM; killed", p.stopTimeout)
	}
	fmt.Fprintf(p.stderr, "dispatchd-load: daemon stopped in %s\n", time.Since(start).Round(time.Millisecond))
	return err
}

// stop terminates the current process (see terminate) and removes the data directory unless it is to be kept.
// It is safe to call more than once; the later calls return the first one's result.
func (p *daemonProc) stop() error {
	p.stopOnce.Do(func() {
		p.stopErr = p.terminate()
		p.showLog()
		p.log.Close()
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

// echoLines is how many lines of the daemon's log are shown on stderr. An overloaded daemon logs every 503 at
// warning level; thousands of such lines would bury the load generator's own output.
const echoLines = 20

// showLog passes on the first echoLines lines of the daemon's log to stderr, and says how many there are.
func (p *daemonProc) showLog() {
	f, err := os.Open(p.log.Name())
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		if n < echoLines {
			fmt.Fprintf(p.stderr, "%s\n", sc.Bytes())
		}
		n++
	}
	if n > echoLines {
		fmt.Fprintf(p.stderr, "dispatchd-load: the daemon's log has %d lines; the first %d are above (%s, kept with --keep-data)\n",
			n, echoLines, p.log.Name())
	}
}
