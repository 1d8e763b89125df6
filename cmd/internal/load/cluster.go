package load

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// natsProc is one nats-server of the chaos mode's JetStream cluster: its config file, store and log in its own
// directory, one process at a time (the mode kills it and starts it again on the same store).
type natsProc struct {
	name   string
	bin    string
	conf   string
	client string // host:port of its clients
	mon    string // host:port of its monitoring endpoint (/healthz)
	log    *os.File
	cur    *process
}

// The servers do not advertise their client addresses (no_advertise): a client told of them would reconnect
// around the chaos mode's proxies, and a node cut off from NATS would not be.
//
// startNATS writes the configs of three nats-servers clustered on loopback (JetStream, sync_interval: always,
// as docs/cluster.md requires) under dir and starts them; it waits until each answers /healthz.
func startNATS(ctx context.Context, bin, dir string, n int) ([]*natsProc, error) {
	ports := make([]int, 3*n)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	var routes []string
	for i := range n {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[n+i]))
	}
	out := make([]*natsProc, n)
	for i := range n {
		name := fmt.Sprintf("nats-%d", i+1)
		store := filepath.Join(dir, name)
		if err := os.MkdirAll(store, 0o755); err != nil {
			return out, err
		}
		conf := fmt.Sprintf(`server_name: %s
listen: 127.0.0.1:%d
http: 127.0.0.1:%d
jetstream {
  store_dir: %q
  sync_interval: always
}
cluster {
  name: dispatchd-chaos
  no_advertise: true
  listen: 127.0.0.1:%d
  routes: [%s]
}
`, name, ports[i], ports[2*n+i], store, ports[n+i], strings.Join(routes, ", "))
		p := &natsProc{name: name, bin: bin, conf: filepath.Join(dir, name+".conf"),
			client: fmt.Sprintf("127.0.0.1:%d", ports[i]), mon: fmt.Sprintf("127.0.0.1:%d", ports[2*n+i])}
		if err := os.WriteFile(p.conf, []byte(conf), 0o644); err != nil {
			return out, err
		}
		var err error
		if p.log, err = os.Create(filepath.Join(dir, name+".log")); err != nil {
			return out, err
		}
		out[i] = p
		if err := p.start(); err != nil {
			return out, err
		}
	}
	for _, p := range out {
		if err := p.waitHealthy(ctx, 30*time.Second); err != nil {
			return out, err
		}
	}
	return out, nil
}

func (p *natsProc) start() error {
	pr, err := startProcess(exec.Command(p.bin, "-c", p.conf), p.log)
	if err != nil {
		return err
	}
	p.cur = pr
	return nil
}

// running reports whether the server's process runs.
func (p *natsProc) running() bool {
	if p.cur == nil {
		return false
	}
	select {
	case <-p.cur.exited:
		return false
	default:
		return true
	}
}

// waitHealthy polls the server's /healthz until it answers 200.
func (p *natsProc) waitHealthy(ctx context.Context, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := client.Get("http://" + p.mon + "/healthz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.cur.exited:
			return fmt.Errorf("%s exited: %v (log %s)", p.name, p.cur.waitErr, p.log.Name())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not healthy within %s (log %s)", p.name, timeout, p.log.Name())
		}
		if !sleep(ctx, 100*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// kill SIGKILLs the server and waits for it.
func (p *natsProc) kill() {
	if !p.running() {
		return
	}
	_ = p.cur.cmd.Process.Kill()
	<-p.cur.exited
}

// stop ends the server with SIGTERM (SIGKILL after 10 s).
func (p *natsProc) stop() {
	if !p.running() {
		return
	}
	_ = p.cur.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.cur.exited:
	case <-time.After(10 * time.Second):
		p.kill()
	}
}

// tcpProxy stands between one dispatchd and one nats-server, so that the chaos mode can cut that node off from
// NATS (every connection closed, new ones refused) while the node still serves HTTP.
type tcpProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newProxy(target string) (*tcpProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.serve)
	return p, nil
}

// url is the proxy's address as a NATS URL.
func (p *tcpProxy) url() string { return "nats://" + p.ln.Addr().String() }

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cut := p.cut
		p.mu.Unlock()
		if cut {
			c.Close()
			continue
		}
		p.wg.Go(func() { p.pipe(c) })
	}
}

// pipe copies between the client's connection and a new one to the server until either side closes.
func (p *tcpProxy) pipe(c net.Conn) {
	s, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c, s) {
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() { io.Copy(s, c); s.Close(); c.Close() })
	wg.Go(func() { io.Copy(c, s); s.Close(); c.Close() })
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, s)
	p.mu.Unlock()
}

// track registers both ends, or closes them when the proxy was cut meanwhile.
func (p *tcpProxy) track(c, s net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		c.Close()
		s.Close()
		return false
	}
	p.conns[c], p.conns[s] = struct{}{}, struct{}{}
	return true
}

// setCut cuts the proxy (closing every connection through it) or opens it again.
func (p *tcpProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
	}
}

// close stops the proxy and waits for its goroutines.
func (p *tcpProxy) close() {
	p.ln.Close()
	p.setCut(true)
	p.wg.Wait()
}

// cluster is the chaos mode's cluster: three nats-servers and three dispatchd nodes, each node reaching every
// server through a proxy of its own.
type cluster struct {
	dir     string
	regions []string
	token   string
	nats    []*natsProc
	nodes   []*daemonProc
	ids     []string
	proxies [][]*tcpProxy // [node][server]
	status  *http.Client
}

// startCluster starts the servers, the proxies and the nodes, and waits until every region has an owner.
func startCluster(ctx context.Context, cfg *Config, stderr io.Writer) (c *cluster, err error) {
	o := cfg.chaos
	dir, err := os.MkdirTemp("", "dispatchd-chaos-")
	if err != nil {
		return nil, err
	}
	c = &cluster{dir: dir, regions: o.regions, token: "load_" + randomHex(24), status: &http.Client{Timeout: 5 * time.Second}}
	defer func() {
		if err != nil {
			c.stop(false)
			c = nil
		}
	}()
	if c.nats, err = startNATS(ctx, o.natsServer, dir, 3); err != nil {
		return c, err
	}
	addrs := make([]string, 3)
	for i := range addrs {
		port, err := freePort()
		if err != nil {
			return c, err
		}
		addrs[i] = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	}
	for i := range 3 {
		var ps []*tcpProxy
		var urls []string
		for _, s := range c.nats {
			p, err := newProxy(s.client)
			if err != nil {
				return c, err
			}
			ps = append(ps, p)
			urls = append(urls, p.url())
		}
		c.proxies = append(c.proxies, ps)
		id := fmt.Sprintf("n%d", i+1)
		c.ids = append(c.ids, id)
		args := []string{"--cluster=" + strings.Join(urls, ","), "--node-id=" + id, "--regions=" + strings.Join(o.regions, ","),
			"--advertise=http://" + addrs[i], "--lease-ttl=" + o.leaseTTL.String(), crashDispatchInterval}
		d, err := startDaemon(ctx, daemonOptions{bin: cfg.spawn, extra: append(args, cfg.daemonArgs...), keep: true,
			readyTimeout: cfg.readyTimeout, stderr: stderr, addr: addrs[i], token: c.token, stopTimeout: 20 * time.Second})
		if err != nil {
			return c, fmt.Errorf("node %s: %w", id, err)
		}
		c.nodes = append(c.nodes, d)
	}
	if _, err := c.waitOwned(ctx, -1, time.Minute); err != nil {
		return c, err
	}
	return c, nil
}

// clusterStatus asks node i for GET /v1/cluster.
func (c *cluster) clusterStatus(ctx context.Context, i int) (*service.ClusterStatus, error) {
	api := &apiClient{base: c.nodes[i].url, http: c.status}
	var st service.ClusterStatus
	if err := api.call(ctx, http.MethodGet, "/v1/cluster", c.token, nil, &st, http.StatusOK); err != nil {
		return nil, err
	}
	return &st, nil
}

// owners is region → owner as node i sees it (regions without an owner, or whose owner has not reported its
// journal, are missing).
func (c *cluster) owners(ctx context.Context, i int) (map[string]string, error) {
	st, err := c.clusterStatus(ctx, i)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, r := range st.Regions {
		if r.Owner != "" && r.Journal != nil {
			out[r.Region] = r.Owner
		}
	}
	return out, nil
}

// waitOwned waits until every region has an owner serving it, as a node other than skip sees it.
func (c *cluster) waitOwned(ctx context.Context, skip int, timeout time.Duration) (map[string]string, error) {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		for i := range c.nodes {
			if i == skip {
				continue
			}
			own, err := c.owners(ctx, i)
			if err == nil && len(own) == len(c.regions) {
				return own, nil
			}
			if err != nil {
				last = err
			} else {
				last = fmt.Errorf("owners %v", own)
			}
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the regions did not all get an owner within %s: %v", timeout, last)
		}
		if !sleep(ctx, 100*time.Millisecond) {
			return nil, ctx.Err()
		}
	}
}

// waitSettled waits until every region has an owner, every node owns at least one region, and two readings a
// second apart agree: the share-out has finished moving regions after a node came back.
func (c *cluster) waitSettled(ctx context.Context, timeout time.Duration) (map[string]string, error) {
	return c.waitSettledWithout(ctx, -1, timeout)
}

// waitSettledWithout is waitSettled with node skip dead (-1: none): it is neither asked nor counted.
func (c *cluster) waitSettledWithout(ctx context.Context, skip int, timeout time.Duration) (map[string]string, error) {
	deadline := time.Now().Add(timeout)
	var prev map[string]string
	alive := len(c.nodes)
	if skip >= 0 {
		alive--
	}
	for {
		own, err := c.waitOwned(ctx, skip, time.Until(deadline))
		if err != nil {
			return nil, err
		}
		held := map[string]bool{}
		for _, o := range own {
			held[o] = true
		}
		if len(held) == min(alive, len(c.regions)) && maps.Equal(own, prev) {
			return own, nil
		}
		prev = own
		if time.Now().After(deadline) {
			return own, fmt.Errorf("the share-out did not settle within %s: owners %v", timeout, own)
		}
		if !sleep(ctx, time.Second) {
			return nil, ctx.Err()
		}
	}
}

// nodeIndex is the index of node id.
func (c *cluster) nodeIndex(id string) int {
	for i, n := range c.ids {
		if n == id {
			return i
		}
	}
	return -1
}

// stop ends the nodes (SIGTERM), the proxies and the servers; the directory is removed unless keep.
func (c *cluster) stop(keep bool) error {
	var errs []error
	for _, d := range c.nodes {
		if err := d.stop(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, ps := range c.proxies {
		for _, p := range ps {
			p.close()
		}
	}
	for _, s := range c.nats {
		if s != nil {
			s.stop()
			s.log.Close()
		}
	}
	if !keep {
		os.RemoveAll(c.dir)
		for _, d := range c.nodes {
			os.RemoveAll(d.dir)
		}
	}
	return errors.Join(errs...)
}

// takeoverSteps is a node's step log of one takeover (the line "node: took the region over" or "node: takeover
// failed" of dispatch/cluster/node), the times as the node's clock read them.
type takeoverSteps struct {
	Node     string    `json:"node"`
	Region   string    `json:"region"`
	Message  string    `json:"message"`
	Previous string    `json:"previous"`
	Expiry   time.Time `json:"expiry_at"`
	Free     time.Time `json:"free_at"`
	Won      time.Time `json:"won_at"`
	Followed time.Time `json:"followed_at"`
	Opened   time.Time `json:"opened_at"`
	Promoted time.Time `json:"promoted_at"`
	Serving  time.Time `json:"serving_at"`
	From     uint64    `json:"from"`
	To       uint64    `json:"to"`
	Error    string    `json:"error"`
}

// takeovers reads every node's log for the takeovers of region whose lease was won at or after since, in the
// order they were won: the failed ones, then the one that served (if any).
func (c *cluster) takeovers(region string, since time.Time) []takeoverSteps {
	var out []takeoverSteps
	for _, d := range c.nodes {
		f, err := os.Open(filepath.Join(d.dir, "dispatchd.log"))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if !bytes.Contains(line, []byte(`"node: took the region over"`)) && !bytes.Contains(line, []byte(`"node: takeover failed"`)) {
				continue
			}
			var s takeoverSteps
			if json.Unmarshal(line, &s) != nil || s.Region != region || s.Won.Before(since) {
				continue
			}
			out = append(out, s)
		}
		f.Close()
	}
	slices.SortFunc(out, func(a, b takeoverSteps) int { return a.Won.Compare(b.Won) })
	return out
}

// describe is s's steps as offsets from the kill at killAt, in seconds.
func (s takeoverSteps) describe(killAt time.Time) string {
	off := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return fmt.Sprintf("%+.2f", t.Sub(killAt).Seconds())
	}
	out := fmt.Sprintf("%s (after %s): lease expiry %s, seen free %s, won %s, following stopped %s, journal opened %s, promoted %s (records %d→%d), serving %s",
		s.Node, s.Previous, off(s.Expiry), off(s.Free), off(s.Won), off(s.Followed), off(s.Opened), off(s.Promoted), s.From, s.To, off(s.Serving))
	if s.Error != "" {
		out += " FAILED: " + truncate(s.Error, 200)
	}
	return out
}
