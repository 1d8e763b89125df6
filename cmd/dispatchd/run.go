package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/o2o-dispatch/dispatchd/cmd/internal/version"
	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/daemon"
	"github.com/o2o-dispatch/dispatchd/dispatch/httpapi"
	"github.com/o2o-dispatch/dispatchd/geo"
	"github.com/o2o-dispatch/dispatchd/metrics"
)

// Main is the program: ParseFlags, then Run until the context ends. Tests run it in-process on :0.
type Main struct {
	Addr             string
	DataDir          string
	DispatchInterval time.Duration
	AdminTokenFile   string
	MetricsAddr      string
	MetricsAuth      bool
	// Pprof serves the Go runtime's profiles (net/http/pprof) on MetricsAddr, which it requires: never on the API's
	// address, and behind the admin token when MetricsAuth is set.
	Pprof            bool
	LogFormat        string
	LogLevel         string
	QueueSize        int
	DefaultPromise   time.Duration
	ScheduleHorizon  time.Duration
	Policy           string
	DispatchWorkers  int
	MaxRoundOrders   int
	ShutdownTimeout  time.Duration
	Heartbeat        time.Duration
	EventRetention   time.Duration
	ETAThreshold     time.Duration
	WebhookRetryMin  time.Duration
	WebhookRetryMax  time.Duration
	WebhookGiveUp    time.Duration
	GCPercent        int
	OrdersRate       float64
	CourierRate      float64
	StreamsPerCaller int
	// Timeouts of the HTTP servers against slow or idle clients (see httpServer).
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	JournalSalvage    bool
	ConfigFile        string
	// Map is the road map (--map): a prepared map file or a raw OpenStreetMap extract; empty: straight lines.
	Map string
	// MapKeptShare is the share of each road graph's junctions whose search spaces are kept (--map-kept-share).
	MapKeptShare float64
	// Cluster mode (docs/cluster.md): NATS servers' URLs (comma-separated), this node's id, the cluster's regions
	// (comma-separated, the first being the control region), the URL other nodes reach this one at, the lease's
	// length and how many servers keep each stream and bucket. Without Cluster, none of it applies.
	Cluster         string
	NodeID          string
	Regions         string
	Advertise       string
	LeaseTTL        time.Duration
	ClusterReplicas int
	// ShowVersion is --version: print the build's version and exit. It is read from the command line only.
	ShowVersion bool

	adminToken string
	stderr     io.Writer
	// flags is the flag set of the last ParseFlags: the settings a config file may hold (tests list them).
	flags *flag.FlagSet

	mu          sync.Mutex
	addr        net.Addr
	metricsAddr net.Addr
	cluster     *clusterRun // with --cluster, once Run set it up
	started     chan struct{}
}

// NewMain returns a Main with the documented defaults, logging to stderr.
func NewMain(stderr io.Writer) *Main {
	return &Main{stderr: stderr, started: make(chan struct{})}
}

// ParseFlags reads flags, then the environment (getenv), then the config file, for every setting.
func (m *Main) ParseFlags(args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("dispatchd", flag.ContinueOnError)
	fs.SetOutput(m.stderr)
	fs.StringVar(&m.Addr, "addr", ":8080", "address the API listens on")
	fs.StringVar(&m.DataDir, "data-dir", "./var", "directory of the journal and the generated admin token")
	fs.DurationVar(&m.DispatchInterval, "dispatch-interval", 10*time.Second, "time between dispatch rounds")
	fs.StringVar(&m.AdminTokenFile, "admin-token-file", "", "file holding the admin token (else DISPATCHD_ADMIN_TOKEN, else <data-dir>/admin.token, created on first start)")
	fs.StringVar(&m.MetricsAddr, "metrics-addr", "", "separate address for GET /metrics (empty: served on --addr)")
	fs.BoolVar(&m.MetricsAuth, "metrics-auth", false, "require the admin token to read /metrics")
	fs.BoolVar(&m.Pprof, "pprof", false, "also serve Go profiles under /debug/pprof/ on --metrics-addr (which it requires)")
	fs.StringVar(&m.LogFormat, "log-format", "auto", "json, console, or auto (console when stderr is a terminal)")
	fs.StringVar(&m.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.IntVar(&m.QueueSize, "queue-size", 4096, "requests that may wait for the event loop before the API answers 503")
	fs.DurationVar(&m.DefaultPromise, "default-promise", 30*time.Minute, "promise of an order that gives neither promise_seconds nor deliver_by")
	fs.DurationVar(&m.ScheduleHorizon, "schedule-horizon", 90*time.Minute, "an order whose delivery window starts more than this ahead is scheduled: planned ahead, handed to the rounds near its time (negative: never)")
	fs.StringVar(&m.Policy, "policy", "optimize", "dispatch policy: optimize or nearest-idle")
	fs.IntVar(&m.MaxRoundOrders, "max-round-orders", 0, "pending orders one dispatch round considers, the most urgent first (0: 4 per online courier, at least 1000)")
	// A round prices on these goroutines while the loop keeps taking orders: by default intake keeps a core.
	// 0 rather than the figure of this machine, so that a config file carries over to a machine with other CPUs.
	fs.IntVar(&m.DispatchWorkers, "dispatch-workers", 0, "goroutines that price a dispatch round (0: one per CPU but one, at least 1)")
	fs.DurationVar(&m.ShutdownTimeout, "shutdown-timeout", 20*time.Second, "how long a graceful stop waits for requests in flight")
	fs.DurationVar(&m.Heartbeat, "stream-heartbeat", 15*time.Second, "interval of the courier stream's heartbeat comments")
	fs.DurationVar(&m.EventRetention, "event-retention", 72*time.Hour, "how long order events stay resumable (GET /v1/events)")
	fs.DurationVar(&m.ETAThreshold, "eta-change-threshold", 2*time.Minute, "order.eta_changed when the planned drop-off moves by more than this (0: never)")
	fs.DurationVar(&m.WebhookRetryMin, "webhook-retry-min", time.Second, "first wait before retrying a failed webhook delivery (doubles up to --webhook-retry-max)")
	fs.DurationVar(&m.WebhookRetryMax, "webhook-retry-max", 5*time.Minute, "longest wait between webhook delivery attempts")
	fs.DurationVar(&m.WebhookGiveUp, "webhook-give-up", 24*time.Hour, "an event still failing this long after its first attempt is given up on")
	// The daemon's heap is mostly long-lived state (orders, routes, recent events); collecting it half as often
	// costs memory but takes latency spikes off order intake (p99 at 1 000 orders/s: 10.5 ms at 100, 9.5 ms at 200).
	fs.IntVar(&m.GCPercent, "gc-percent", 200, "Go GC target percentage, unless the GOGC environment variable is set")
	fs.Float64Var(&m.OrdersRate, "rate-limit-orders", 5000, "requests a second one order-service key may make (burst twice that; 0: unlimited)")
	fs.Float64Var(&m.CourierRate, "rate-limit-courier", 50, "requests a second one courier may make (burst twice that; 0: unlimited)")
	fs.IntVar(&m.StreamsPerCaller, "max-streams", 8, "streams one key or courier may hold open (0: unlimited)")
	fs.DurationVar(&m.ReadHeaderTimeout, "read-header-timeout", 10*time.Second, "how long a client may take to send a request's headers")
	fs.DurationVar(&m.ReadTimeout, "read-timeout", 30*time.Second, "how long a client may take to send a whole request, body included")
	fs.DurationVar(&m.WriteTimeout, "write-timeout", 30*time.Second, "how long a response may take to be written (a stream's deadline is renewed at each write)")
	fs.DurationVar(&m.IdleTimeout, "idle-timeout", 120*time.Second, "how long a kept-alive connection may wait for its next request")
	fs.BoolVar(&m.JournalSalvage, "journal-salvage", false, "start on a damaged journal or event log that the daemon refuses, keeping the records before the damage; the damaged segments are moved aside and what is lost is logged (for one start)")
	fs.StringVar(&m.Map, "map", "", "road map to plan on: a file of 'dispatchd map prepare' or a raw OpenStreetMap .osm.pbf extract (empty: straight lines times a detour factor)")
	fs.Float64Var(&m.MapKeptShare, "map-kept-share", 0.05, "with --map: the share of each profile's road junctions, the most important, whose search spaces are kept in memory for fast queries (a twentieth: about 120 MB a profile for a city of a million junctions; 0: none, queries 3 to 5 times slower)")
	fs.StringVar(&m.Cluster, "cluster", "", "run as a node of a cluster on these NATS JetStream servers (nats://h1:4222,nats://h2:4222; docs/cluster.md); empty: one process with its local journal")
	fs.StringVar(&m.NodeID, "node-id", "", "with --cluster: this node's id, unique in the cluster (letters, digits, - and _)")
	fs.StringVar(&m.Regions, "regions", "", "with --cluster: the cluster's regions, comma-separated, the same on every node; the first is the control region (API keys, webhooks)")
	fs.StringVar(&m.Advertise, "advertise", "", "with --cluster: the URL other nodes reach this node's API at (http://10.0.0.5:8080); requests for its regions are forwarded there")
	fs.DurationVar(&m.LeaseTTL, "lease-ttl", 5*time.Second, "with --cluster: a region lease's length, the same on every node: a dead owner's regions move after about this long")
	fs.IntVar(&m.ClusterReplicas, "cluster-replicas", 3, "with --cluster: how many NATS servers keep each region's stream, the leases and the checkpoints")
	fs.StringVar(&m.ConfigFile, "config", "", "optional JSON config file whose keys are these flags' names")
	fs.BoolVar(&m.ShowVersion, "version", false, "print the version and commit of this build and exit")
	m.flags = fs
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("dispatchd: unexpected argument %q", fs.Arg(0))
	}
	if m.ShowVersion {
		// Nothing else is read or checked: --version answers even beside a broken config.
		return nil
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	env := func(name string) string {
		return getenv("DISPATCHD_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")))
	}
	if !set["config"] {
		if v := env("config"); v != "" {
			m.ConfigFile = v
		}
	}
	file := map[string]string{} // flag name → its value in the config file
	if m.ConfigFile != "" {
		b, err := os.ReadFile(m.ConfigFile)
		if err != nil {
			return fmt.Errorf("dispatchd: config: %w", err)
		}
		var raw map[string]any
		if err := json.Unmarshal(b, &raw); err != nil {
			return fmt.Errorf("dispatchd: config %s: %w", m.ConfigFile, err)
		}
		for k, v := range raw {
			if strings.HasPrefix(k, "_") {
				continue // a comment (docs/dispatchd.example.json describes each setting so)
			}
			name := strings.ReplaceAll(k, "_", "-")
			if fs.Lookup(name) == nil || commandLineOnly[name] {
				return fmt.Errorf("dispatchd: config %s: unknown setting %q", m.ConfigFile, k)
			}
			if _, dup := file[name]; dup {
				return fmt.Errorf("dispatchd: config %s: %s is set twice", m.ConfigFile, name)
			}
			val, err := configValue(v)
			if err != nil {
				return fmt.Errorf("dispatchd: config %s: %s: %w", m.ConfigFile, k, err)
			}
			file[name] = val
		}
	}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || set[f.Name] || commandLineOnly[f.Name] {
			return
		}
		src, val := "", ""
		if v := env(f.Name); v != "" {
			src, val = "environment", v
		} else if v, ok := file[f.Name]; ok {
			src, val = "config file", v
		}
		if src != "" {
			if e := fs.Set(f.Name, val); e != nil {
				err = fmt.Errorf("dispatchd: %s: %s: %w", src, f.Name, e)
			}
		}
	})
	if err != nil {
		return err
	}
	m.adminToken = getenv("DISPATCHD_ADMIN_TOKEN")
	switch {
	case m.DispatchInterval < 100*time.Millisecond:
		return errors.New("dispatchd: --dispatch-interval must be at least 100ms")
	case m.QueueSize < 1:
		return errors.New("dispatchd: --queue-size must be positive")
	case m.MaxRoundOrders < 0:
		return errors.New("dispatchd: --max-round-orders must not be negative (0: automatic)")
	case m.DispatchWorkers < 0 || m.DispatchWorkers > 256:
		return errors.New("dispatchd: --dispatch-workers must be within [0, 256] (0: one per CPU but one)")
	case m.DataDir == "":
		return errors.New("dispatchd: --data-dir is required")
	case m.Pprof && m.MetricsAddr == "":
		return errors.New("dispatchd: --pprof needs --metrics-addr (profiles are never served on the API's address)")
	case m.ReadHeaderTimeout <= 0 || m.ReadTimeout <= 0 || m.WriteTimeout <= 0 || m.IdleTimeout <= 0:
		return errors.New("dispatchd: --read-header-timeout, --read-timeout, --write-timeout and --idle-timeout must be positive")
	case !(m.MapKeptShare >= 0 && m.MapKeptShare <= 1): // also NaN
		return errors.New("dispatchd: --map-kept-share must be within [0, 1] (0: none kept)")
	}
	if _, err := dispatch.ParsePolicy(m.Policy); err != nil {
		return fmt.Errorf("dispatchd: --policy: %w", err)
	}
	return m.checkCluster()
}

// commandLineOnly are the flags that neither the environment nor a config file sets: the config file's own path
// (its environment variable is read apart) and --version.
var commandLineOnly = map[string]bool{"config": true, "version": true}

// configValue is a config file's value as the flag takes it: a string or true/false as it is, a number in plain
// decimal (as fmt.Sprint writes 1000000, "1e+06", an integer flag would refuse it). Anything else is refused rather
// than turned into text such as "<nil>".
func configValue(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	}
	return "", errors.New("a setting is a string, a number or true/false")
}

// Addr is the API's listening address once Run has started (nil before).
func (m *Main) ListenAddr() net.Addr {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addr
}

// MetricsListenAddr is the metrics listener's address once Run has started (nil without --metrics-addr).
func (m *Main) MetricsListenAddr() net.Addr {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.metricsAddr
}

// Started is closed once Run is serving.
func (m *Main) Started() <-chan struct{} { return m.started }

func (m *Main) logger() (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(m.LogLevel)
	if err != nil {
		return zerolog.Logger{}, fmt.Errorf("dispatchd: --log-level: %w", err)
	}
	var w io.Writer = m.stderr
	switch m.LogFormat {
	case "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: m.stderr, TimeFormat: time.TimeOnly}
	case "auto":
		if f, ok := m.stderr.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				w = zerolog.ConsoleWriter{Out: m.stderr, TimeFormat: time.TimeOnly}
			}
		}
	default:
		return zerolog.Logger{}, fmt.Errorf("dispatchd: --log-format must be json, console or auto")
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger(), nil
}

// loadAdminToken returns the admin token: from --admin-token-file, DISPATCHD_ADMIN_TOKEN, or <data-dir>/admin.token,
// which the first start creates (mode 0600). The token is never logged; its file's path is.
func (m *Main) loadAdminToken(log zerolog.Logger) (string, error) {
	read := func(path string) (string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		t := strings.TrimSpace(string(b))
		if len(t) < 16 {
			return "", fmt.Errorf("dispatchd: admin token in %s is shorter than 16 characters", path)
		}
		return t, nil
	}
	if m.AdminTokenFile != "" {
		t, err := read(m.AdminTokenFile)
		if err != nil {
			return "", fmt.Errorf("dispatchd: --admin-token-file: %w", err)
		}
		return t, nil
	}
	if m.adminToken != "" {
		if len(m.adminToken) < 16 {
			return "", errors.New("dispatchd: DISPATCHD_ADMIN_TOKEN is shorter than 16 characters")
		}
		return m.adminToken, nil
	}
	path := filepath.Join(m.DataDir, "admin.token")
	if t, err := read(path); err == nil {
		log.Info().Str("path", path).Msg("admin token read from file")
		return t, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(m.DataDir, 0o700); err != nil {
		return "", fmt.Errorf("dispatchd: %w", err)
	}
	t := daemon.NewToken("da_")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("dispatchd: write admin token: %w", err)
	}
	if _, err := f.WriteString(t + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("dispatchd: write admin token: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("dispatchd: write admin token: %w", err)
	}
	log.Warn().Str("path", path).Msg("no admin token configured: generated one; read it from this file")
	return t, nil
}

// maxHeaderBytes bounds a request's headers (and request line): far above what any client of the API sends, far
// below net/http's default of 1 MiB.
const maxHeaderBytes = 32 << 10

// httpServer is an HTTP server for h that a slow or idle client cannot hold: the headers must come within
// --read-header-timeout, the whole request within --read-timeout, the response must be written within
// --write-timeout, and a kept-alive connection is closed after --idle-timeout without a request. The streams
// (GET /v1/courier/stream, GET /v1/events) are long responses to short requests: net/http lifts the read deadline
// once a request is read, and the streams renew the write deadline before each write, so they live as long as
// their client reads.
func (m *Main) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: m.ReadHeaderTimeout,
		ReadTimeout:       m.ReadTimeout,
		WriteTimeout:      m.WriteTimeout,
		IdleTimeout:       m.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}
}

// Run starts the daemon and serves until ctx ends, then stops gracefully: stop accepting connections, finish the
// requests in flight, end the courier streams, drain the loop, write a checkpoint and close the journal.
func (m *Main) Run(ctx context.Context) (err error) {
	log, err := m.logger()
	if err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" && m.GCPercent > 0 {
		debug.SetGCPercent(m.GCPercent)
	}
	if m.Cluster != "" && m.AdminTokenFile == "" && m.adminToken == "" {
		// A node forwards requests to others with the caller's token: every node must know the same one.
		return errors.New("dispatchd: --cluster: every node needs the same admin token: set --admin-token-file or DISPATCHD_ADMIN_TOKEN")
	}
	token, err := m.loadAdminToken(log)
	if err != nil {
		return err
	}
	policy, _ := dispatch.ParsePolicy(m.Policy)
	cfg := daemon.DefaultConfig()
	cfg.DataDir = m.DataDir
	cfg.DispatchInterval = m.DispatchInterval
	cfg.QueueSize = m.QueueSize
	cfg.DefaultPromise = m.DefaultPromise
	cfg.Schedule.Horizon = m.ScheduleHorizon
	cfg.Engine.Policy = policy
	cfg.Engine.Workers = m.DispatchWorkers
	if cfg.Engine.Workers == 0 {
		cfg.Engine.Workers = max(1, runtime.GOMAXPROCS(0)-1)
	}
	cfg.Engine.MaxRoundOrders = m.MaxRoundOrders
	cfg.EventRetention, cfg.ETAChangeThreshold = m.EventRetention, m.ETAThreshold
	cfg.Webhooks = daemon.WebhookConfig{RetryMin: m.WebhookRetryMin, RetryMax: m.WebhookRetryMax, GiveUpAfter: m.WebhookGiveUp}
	cfg.Logger = log
	cfg.Salvage = m.JournalSalvage
	var tables geo.TableModel
	if m.Map != "" {
		net, err := m.loadMap(ctx, log)
		if err != nil {
			return err
		}
		cfg.Travel, tables = net, net
		if m.MapKeptShare > 0 {
			// The kept spaces of the hierarchies' top nodes, made beside the first rounds rather than inside them.
			keepCtx, stopKeep := context.WithCancel(ctx)
			kept := make(chan struct{})
			go func() {
				defer close(kept)
				began := time.Now()
				bytes, err := net.KeepTop(keepCtx)
				if err != nil {
					return
				}
				log.Info().Str("took", time.Since(began).Round(time.Millisecond).String()).Int64("bytes", bytes).
					Msg("road map: the top of every hierarchy is kept for fast queries")
			}()
			defer func() {
				stopKeep()
				<-kept
			}()
		} else {
			log.Info().Msg("road map: no search spaces kept (--map-kept-share 0): queries climb the whole hierarchy")
		}
	} else {
		cfg.Travel = geo.NewStraightLine(geo.Geographic) // the daemon's default, named here for the API's plans
	}

	var d *daemon.Daemon
	var cr *clusterRun
	met := metrics.New(func() metrics.Fleet {
		if cr != nil {
			return cr.fleet()
		}
		return fleetOf(d)
	})
	rounds := daemon.NewRoundTimes(met) // the last round's duration, for the console
	cfg.Observer = rounds
	build := version.Get()
	if err := met.Registry().Register(metrics.NewBuildInfo(build.Version, build.Commit, build.GoVersion)); err != nil {
		return fmt.Errorf("dispatchd: metrics: %w", err)
	}
	if err := met.Registry().Register(metrics.NewDataDirCollector(m.DataDir)); err != nil {
		return fmt.Errorf("dispatchd: metrics: %w", err)
	}
	limits := httpapi.DefaultLimits()
	limits.OrdersRate, limits.CourierRate = m.OrdersRate, m.CourierRate
	limits.OrdersBurst, limits.CourierBurst = max(1, int(2*m.OrdersRate)), max(1, int(2*m.CourierRate))
	limits.StreamsPerCaller = m.StreamsPerCaller
	apiCfg := httpapi.Config{AdminToken: token, Logger: log, Instrument: met.InstrumentHTTP, Heartbeat: m.Heartbeat, Limits: limits,
		Roads: tables, Travel: cfg.Travel, Rounds: rounds}
	var handler http.Handler
	var stopStreams func()
	if m.Cluster != "" {
		cr, err = m.openCluster(ctx, log, cfg, apiCfg, met)
		if err != nil {
			return err
		}
		defer cr.stop()
		m.mu.Lock()
		m.cluster = cr
		m.mu.Unlock()
		mux := http.NewServeMux()
		if m.MetricsAddr == "" {
			// The node's own metrics: never forwarded to another node.
			var h http.Handler = met.Handler()
			if m.MetricsAuth {
				h = httpapi.RequireAdmin(token, h)
			}
			mux.Handle("GET /metrics", h)
		}
		mux.Handle("/", cr.router)
		handler, stopStreams = mux, cr.stopStreams
	} else {
		d, err = daemon.Open(cfg)
		if errors.Is(err, daemon.ErrSalvageable) {
			return fmt.Errorf("%w\ndispatchd: the data in %s is damaged (above). To start with what is intact before the damage, losing "+
				"what the error names, start once with --journal-salvage (DISPATCHD_JOURNAL_SALVAGE=true); the damaged "+
				"segments are moved aside, not deleted, and what was dropped is logged", err, m.DataDir)
		}
		if err != nil {
			return err
		}
		if m.JournalSalvage {
			log.Warn().Msg("--journal-salvage is set: remove it once this start is done, so that new damage is refused again")
		}

		if m.MetricsAddr == "" {
			apiCfg.Metrics, apiCfg.MetricsNeedAdmin = met.Handler(), m.MetricsAuth
		}
		api := httpapi.New(d, apiCfg)

		loopCtx, stopLoop := context.WithCancel(context.Background())
		loopDone := make(chan error, 1)
		go func() { loopDone <- d.Run(loopCtx) }()
		defer func() {
			stopLoop()
			if lerr := <-loopDone; lerr != nil {
				err = errors.Join(err, fmt.Errorf("dispatchd: loop: %w", lerr))
			}
			log.Info().Msg("stopped")
		}()

		handler, stopStreams = api.Handler(), d.StopStreams
	}

	ln, err := net.Listen("tcp", m.Addr)
	if err != nil {
		return fmt.Errorf("dispatchd: listen: %w", err)
	}
	srv := m.httpServer(handler)
	srv.RegisterOnShutdown(stopStreams)
	servers := []*http.Server{srv}
	listeners := []net.Listener{ln}
	if m.MetricsAddr != "" {
		mln, err := net.Listen("tcp", m.MetricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("dispatchd: listen for metrics: %w", err)
		}
		mux := http.NewServeMux()
		var h http.Handler = met.Handler()
		if m.MetricsAuth {
			h = httpapi.RequireAdmin(token, h)
		}
		mux.Handle("GET /metrics", h)
		if m.Pprof {
			guard := func(h http.Handler) http.Handler {
				if m.MetricsAuth {
					return httpapi.RequireAdmin(token, h)
				}
				return h
			}
			mux.Handle("GET /debug/pprof/", guard(http.HandlerFunc(pprof.Index)))
			mux.Handle("GET /debug/pprof/profile", guard(http.HandlerFunc(pprof.Profile)))
			mux.Handle("GET /debug/pprof/trace", guard(http.HandlerFunc(pprof.Trace)))
			mux.Handle("GET /debug/pprof/symbol", guard(http.HandlerFunc(pprof.Symbol)))
		}
		servers = append(servers, m.httpServer(mux))
		listeners = append(listeners, mln)
		m.mu.Lock()
		m.metricsAddr = mln.Addr()
		m.mu.Unlock()
		log.Info().Str("addr", mln.Addr().String()).Msg("metrics listening")
	}
	m.mu.Lock()
	m.addr = ln.Addr()
	m.mu.Unlock()

	serveErr := make(chan error, len(servers))
	var wg sync.WaitGroup
	for i := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := servers[i].Serve(listeners[i]); err != nil && !errors.Is(err, http.ErrServerClosed) {
				serveErr <- err
			}
		}()
	}
	log.Info().Str("addr", ln.Addr().String()).Str("data_dir", m.DataDir).Str("dispatch_interval", m.DispatchInterval.String()).
		Str("version", version.Get().Version).Msg("listening")
	if cr != nil {
		// Other nodes forward to this one once it serves a region: it listens first.
		cr.start()
	}
	close(m.started)

	select {
	case <-ctx.Done():
		log.Info().Msg("stopping: finishing requests in flight")
	case err = <-serveErr:
		log.Error().Err(err).Msg("server failed; stopping")
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), m.ShutdownTimeout)
	defer cancel()
	for _, s := range servers {
		if serr := s.Shutdown(shutdownCtx); serr != nil {
			err = errors.Join(err, fmt.Errorf("dispatchd: shutdown: %w", serr))
			s.Close()
		}
	}
	wg.Wait()
	return err
}
