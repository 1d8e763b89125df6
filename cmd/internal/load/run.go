package load

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/o2o-dispatch/dispatchd/cmd/internal/version"
)

// ErrUsage marks ParseFlags' refusal of a command line (the program exits with status 2).
var ErrUsage = errors.New("usage")

const (
	modeOrders    = "orders"
	modeLocations = "locations"
	// modeBatch sends positions the way a gateway relays them: --batch couriers' positions per request to
	// POST /v1/courier-locations (admin token). Rates are requests a second; updates are rate × batch.
	modeBatch = "locations-batch"
)

// Config is the command line, checked (ParseFlags).
type Config struct {
	target         string
	adminToken     string
	adminTokenFile string
	spawn          string
	daemonArgs     stringList
	keepData       bool
	readyTimeout   time.Duration
	// cpuProfile names a file for the generator's own CPU profile (what the load costs the machine beside the
	// daemon).
	cpuProfile string

	mode     string
	batch    int
	rates    []int
	swept    bool
	duration time.Duration
	pause    time.Duration
	p99Limit time.Duration

	stores   int
	couriers int
	center   location
	areaM    float64
	dropMinM float64
	dropMaxM float64

	attack   attackOptions
	jsonPath string

	// drive holds the flags of the drive and crash modes.
	drive       driveOptions
	allowRemote bool
	// chaos holds the flags of the chaos mode.
	chaos chaosOptions

	// version is --version: print the build and exit, nothing else checked.
	version bool
}

// stringList is a flag that may be repeated.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, " ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// ParseFlags reads and checks the command line args (without the program's name), reading the admin token from
// its file or getenv when the flags say so. Usage goes to stderr; a refusal is an error wrapping ErrUsage, and
// -h gives flag.ErrHelp.
func ParseFlags(args []string, stderr io.Writer, getenv func(string) string) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet("dispatchd-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.target, "target", "", "URL of a running daemon, such as http://127.0.0.1:8080 (or use --spawn)")
	fs.StringVar(&c.adminToken, "admin-token", "", "admin token of the --target daemon (default $DISPATCHD_ADMIN_TOKEN)")
	fs.StringVar(&c.adminTokenFile, "admin-token-file", "", "file holding the admin token of the --target daemon")
	fs.StringVar(&c.spawn, "spawn", "", "path of a dispatchd binary to start on a free loopback port (or use --target)")
	fs.Var(&c.daemonArgs, "daemon-arg", "extra flag for the spawned daemon, repeated: --daemon-arg=--dispatch-interval=10s")
	fs.BoolVar(&c.keepData, "keep-data", false, "keep the spawned daemon's temporary data directory (and its log)")
	fs.DurationVar(&c.readyTimeout, "ready-timeout", 30*time.Second, "how long to wait for GET /readyz = 200")
	fs.StringVar(&c.mode, "mode", modeOrders, "what to attack: orders (POST /v1/orders), locations (POST /v1/courier/location), locations-batch (POST /v1/courier-locations, --batch positions a request), drive (order services and couriers working) or crash (the drive with --kills SIGKILLs of a spawned daemon, then a check)")
	fs.IntVar(&c.batch, "batch", 100, "positions per request in the locations-batch mode (1 to 1000)")
	rate := fs.Int("rate", 1000, "requests per second (one step)")
	sweep := fs.String("sweep", "", "comma-separated increasing rates, one step each, such as 1000,2000,3000")
	fs.DurationVar(&c.duration, "duration", 30*time.Second, "length of each step")
	fs.DurationVar(&c.pause, "pause", 5*time.Second, "pause between the steps of a sweep, for the daemon to settle")
	fs.DurationVar(&c.p99Limit, "p99-limit", 50*time.Millisecond, "p99 latency a step must stay under to count as sustained")
	fs.IntVar(&c.stores, "stores", 50, "stores to register")
	fs.IntVar(&c.couriers, "couriers", -1, "couriers to register and put online (default 1000 for locations, 0 for orders)")
	center := fs.String("center", "31.2304,121.4737", "city centre as lat,lon (default Shanghai)")
	fs.Float64Var(&c.areaM, "area-m", 5000, "side in metres of the square around --center where stores and couriers are placed")
	fs.Float64Var(&c.dropMinM, "dropoff-min-m", minDropoffM, "an order's drop-off is at least this many metres from its store")
	fs.Float64Var(&c.dropMaxM, "dropoff-max-m", maxDropoffM, "an order's drop-off is at most this many metres from its store (keep it on the map of a small city)")
	fs.Uint64Var(&c.attack.workers, "workers", 64, "attack workers to start with (vegeta adds more when all are busy)")
	fs.Uint64Var(&c.attack.maxWorkers, "max-workers", 10000, "most attack workers, hence requests in flight")
	fs.IntVar(&c.attack.connections, "connections", 10000, "idle keep-alive connections kept open to the daemon")
	fs.IntVar(&c.attack.maxConns, "max-conns", 0, "drive, crash: at most this many connections carry the requests, kept open, as a gateway's pool to the daemon would (0: a new connection whenever none is idle, as phones would; the couriers' streams have their own)")
	fs.DurationVar(&c.attack.timeout, "timeout", 10*time.Second, "per-request timeout (a timeout counts as an error)")
	fs.StringVar(&c.jsonPath, "json", "", "also write the figures as JSON to this file")
	fs.BoolVar(&c.allowRemote, "allow-remote", false, "allow a --target that is not on the loopback interface")
	fs.IntVar(&c.drive.locationRate, "location-rate", 5000, "drive, crash: positions a second, all couriers together")
	fs.IntVar(&c.drive.locationBatch, "location-batch", 0, "drive, crash: 0 = each courier posts its own position; N = positions go N a request by POST /v1/courier-locations (admin token)")
	fs.Float64Var(&c.drive.timeScale, "time-scale", 10, "drive, crash: couriers ride at this many times e-bike speed (5 m/s)")
	fs.IntVar(&c.drive.prepSeconds, "prep-seconds", 30, "drive, crash: prep_seconds of every order (couriers wait at the store until ready_at)")
	fs.IntVar(&c.drive.promiseSeconds, "promise-seconds", 1800, "drive, crash: promise_seconds of every order")
	fs.Float64Var(&c.drive.cancelShare, "cancel-share", 0.02, "drive, crash: share of orders the order service cancels 1 to 10 s after placing them")
	fs.DurationVar(&c.drive.drain, "drain", 20*time.Second, "drive, crash: after the load, how long the couriers go on working before the check")
	fs.IntVar(&c.drive.kills, "kills", 20, "crash: how many times to SIGKILL the daemon")
	fs.IntVar(&c.drive.graceful, "graceful", 0, "crash: how many graceful restarts (SIGTERM, so a checkpoint) to mix in among the kills")
	fs.Uint64Var(&c.drive.seed, "seed", 0, "crash: seed of the kill schedule (default: random, printed)")
	fs.StringVar(&c.chaos.natsServer, "nats-server", "bin/nats-server", "chaos: path of the nats-server binary (make install-nats-server)")
	regions := fs.String("regions", "north,south,east,west", "chaos: the cluster's regions, comma-separated")
	fs.DurationVar(&c.chaos.leaseTTL, "lease-ttl", 3*time.Second, "chaos: the nodes' --lease-ttl")
	fs.BoolVar(&c.version, "version", false, "print the version and commit of this build and exit")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write the load generator's own CPU profile to this file")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: dispatchd-load (--spawn DISPATCHD | --target URL --admin-token-file FILE) [--mode orders|locations] (--rate N | --sweep N,N,...) [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	if c.version {
		return c, nil
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrUsage}, a...)...)
	}

	switch {
	case c.spawn == "" && c.target == "":
		return nil, bad("give --spawn PATH (start a daemon) or --target URL (attack a running one)")
	case c.spawn != "" && c.target != "":
		return nil, bad("--spawn and --target exclude each other")
	case c.spawn != "" && (c.adminToken != "" || c.adminTokenFile != ""):
		return nil, bad("--admin-token and --admin-token-file are for --target; --spawn generates a token")
	case c.spawn == "" && (len(c.daemonArgs) > 0 || c.keepData):
		return nil, bad("--daemon-arg and --keep-data need --spawn")
	case c.mode != modeOrders && c.mode != modeLocations && c.mode != modeBatch && c.mode != modeDrive && c.mode != modeCrash && c.mode != modeChaos:
		return nil, bad("--mode must be orders, locations, locations-batch, drive, crash or chaos, not %q", c.mode)
	case c.batch < 1 || c.batch > 1000:
		return nil, bad("--batch must be within [1, 1000]")
	case set["rate"] && set["sweep"]:
		return nil, bad("give --rate or --sweep, not both")
	case c.duration <= 0:
		return nil, bad("--duration must be positive")
	case c.pause < 0:
		return nil, bad("--pause must not be negative")
	case c.p99Limit <= 0:
		return nil, bad("--p99-limit must be positive")
	case c.stores < 1 || c.stores > 100_000:
		return nil, bad("--stores must be within [1, 100000]")
	case c.couriers < -1 || c.couriers > 1_000_000:
		return nil, bad("--couriers must be within [0, 1000000]")
	case !(c.areaM >= 100 && c.areaM <= 200_000):
		return nil, bad("--area-m must be within [100, 200000]")
	case c.dropMinM < 0 || c.dropMaxM < 50 || c.dropMinM > c.dropMaxM || c.dropMaxM > 50000:
		return nil, bad("--dropoff-min-m and --dropoff-max-m must satisfy 0 <= min <= max, 50 <= max <= 50000")
	case c.attack.workers < 1 || c.attack.maxWorkers < c.attack.workers:
		return nil, bad("--workers must be at least 1 and at most --max-workers")
	case c.attack.connections < 1:
		return nil, bad("--connections must be positive")
	case c.attack.timeout <= 0 || c.readyTimeout <= 0:
		return nil, bad("--timeout and --ready-timeout must be positive")
	}
	c.chaos.regions = strings.Split(*regions, ",")
	if c.mode == modeChaos {
		if c.spawn == "" {
			return nil, bad("the chaos mode starts its own cluster: give --spawn DISPATCHD")
		}
		if c.chaos.leaseTTL < time.Second {
			return nil, bad("--lease-ttl must be at least 1s")
		}
		if c.couriers < 0 {
			c.couriers = 40
		}
		if !set["rate"] {
			*rate = 50
		}
		if !set["kills"] {
			c.drive.kills = 20
		}
		if c.drive.kills < 1 || c.drive.kills > 1000 {
			return nil, bad("--kills must be within [1, 1000]")
		}
		if !set["seed"] {
			c.drive.seed = rand.Uint64()
		}
		if !set["cancel-share"] {
			c.drive.cancelShare = 0.05
		}
		c.rates = []int{*rate}
		var err error
		if c.center, err = parseLatLon(*center); err != nil {
			return nil, bad("--center: %v", err)
		}
		return c, nil
	}
	if c.couriers < 0 {
		c.couriers = 0
		if c.mode == modeLocations || c.mode == modeBatch || c.mode == modeDrive || c.mode == modeCrash {
			c.couriers = 1000
		}
	}
	if err := c.checkDrive(set, *sweep != ""); err != nil {
		return nil, err
	}
	if (c.mode == modeLocations || c.mode == modeBatch) && c.couriers == 0 {
		return nil, bad("the locations mode needs --couriers of at least 1")
	}
	if *sweep != "" {
		rates, err := parseSweep(*sweep)
		if err != nil {
			return nil, bad("--sweep: %v", err)
		}
		c.rates, c.swept = rates, true
	} else {
		if *rate < 1 || *rate > maxRate {
			return nil, bad("--rate must be within [1, %d]", maxRate)
		}
		c.rates = []int{*rate}
	}
	var err error
	if c.center, err = parseLatLon(*center); err != nil {
		return nil, bad("--center: %v", err)
	}
	if c.target != "" {
		u, err := url.Parse(c.target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, bad("--target must be an http(s) URL such as http://127.0.0.1:8080")
		}
		c.target = strings.TrimRight(c.target, "/")
		if !c.allowRemote && !isLoopback(u.Hostname()) {
			return nil, bad("--target %s is not on the loopback interface: the load is meant for a daemon on this machine (--allow-remote to aim it elsewhere)", c.target)
		}
		switch {
		case c.adminTokenFile != "":
			b, err := os.ReadFile(c.adminTokenFile)
			if err != nil {
				return nil, fmt.Errorf("--admin-token-file: %w", err)
			}
			c.adminToken = strings.TrimSpace(string(b))
		case c.adminToken == "":
			c.adminToken = getenv("DISPATCHD_ADMIN_TOKEN")
		}
		if c.adminToken == "" {
			return nil, bad("--target needs the admin token: --admin-token-file, --admin-token or $DISPATCHD_ADMIN_TOKEN")
		}
	}
	return c, nil
}

// checkDrive checks the flags of the drive and crash modes (set: the flags given; swept: --sweep was given).
func (c *Config) checkDrive(set map[string]bool, swept bool) error {
	o := &c.drive
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrUsage}, a...)...)
	}
	if c.mode != modeDrive && c.mode != modeCrash {
		for _, f := range []string{"location-rate", "location-batch", "time-scale", "prep-seconds", "promise-seconds",
			"cancel-share", "drain", "kills", "graceful", "seed", "max-conns"} {
			if set[f] {
				return bad("--%s is for the drive and crash modes", f)
			}
		}
		return nil
	}
	switch {
	case swept:
		return bad("the %s mode runs at one --rate, not a --sweep", c.mode)
	case c.couriers < 1:
		return bad("the %s mode needs --couriers of at least 1", c.mode)
	case o.locationRate < 0 || o.locationRate > maxRate:
		return bad("--location-rate must be within [0, %d]", maxRate)
	case o.locationBatch < 0 || o.locationBatch > 1000:
		return bad("--location-batch must be within [0, 1000]")
	case c.attack.maxConns < 0 || c.attack.maxConns > 100000:
		return bad("--max-conns must be within [0, 100000]")
	case !(o.timeScale >= 1 && o.timeScale <= 1000):
		return bad("--time-scale must be within [1, 1000]")
	case o.prepSeconds < 0 || o.prepSeconds > 86400:
		return bad("--prep-seconds must be within [0, 86400]")
	case o.promiseSeconds < 60 || o.promiseSeconds > 86400 || o.promiseSeconds < o.prepSeconds:
		return bad("--promise-seconds must be within [60, 86400] and at least --prep-seconds")
	case !(o.cancelShare >= 0 && o.cancelShare <= 1):
		return bad("--cancel-share must be within [0, 1]")
	case o.drain < 0:
		return bad("--drain must not be negative")
	case c.mode == modeDrive && (set["kills"] || set["graceful"] || set["seed"]):
		return bad("--kills, --graceful and --seed are for the crash mode")
	case c.mode == modeCrash && c.spawn == "":
		return bad("the crash mode kills the daemon it starts: give --spawn")
	case c.mode == modeCrash && (o.kills < 1 || o.kills > 10000):
		return bad("--kills must be within [1, 10000]")
	case o.graceful < 0 || o.graceful > 10000:
		return bad("--graceful must be within [0, 10000]")
	}
	if c.mode == modeCrash && !set["seed"] {
		o.seed = rand.Uint64()
	}
	return nil
}

// isLoopback reports whether host (a name or an address) is this machine's loopback interface.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func parseLatLon(s string) (location, error) {
	a, b, ok := strings.Cut(s, ",")
	lat, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
	lon, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
	// Far from the poles and the antimeridian, so that the area around it needs no wrapping.
	if !ok || err1 != nil || err2 != nil || !(lat >= -80 && lat <= 80) || !(lon >= -179 && lon <= 179) {
		return location{}, fmt.Errorf("want lat,lon within [-80, 80] and [-179, 179], such as 31.2304,121.4737; got %q", s)
	}
	return location{Lat: lat, Lon: lon}, nil
}

// run is ParseFlags, then Run.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg, err := ParseFlags(args, stderr, getenv)
	if err != nil {
		return err
	}
	return Run(ctx, cfg, stdout, stderr)
}

// Run is the program once its flags are read: it returns an error rather than exiting, so that every deferred
// clean-up (above all stopping a spawned daemon) runs. The report goes to stdout, progress to stderr; ctx ending
// (the first Ctrl-C) stops the attack, and the steps run so far are reported.
func Run(ctx context.Context, cfg *Config, stdout, stderr io.Writer) (err error) {
	if cfg.version {
		_, err := fmt.Fprintln(stdout, version.Line("dispatchd-load"))
		return err
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			err = errors.Join(err, f.Close())
		}()
	}
	if cfg.mode == modeDrive || cfg.mode == modeCrash {
		return runDrive(ctx, cfg, stdout, stderr)
	}
	if cfg.mode == modeChaos {
		return runChaos(ctx, cfg, stdout, stderr)
	}
	rep := &report{
		Mode: cfg.mode, Stores: cfg.stores, Couriers: cfg.couriers, StepDuration: cfg.duration.String(),
		P99LimitMS: ms(cfg.p99Limit), StartedAt: time.Now().UTC().Truncate(time.Second),
		Host: hostInfo{NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH},
	}

	target, token := cfg.target, cfg.adminToken
	var d *daemonProc
	if cfg.spawn != "" {
		fmt.Fprintf(stderr, "dispatchd-load: starting %s\n", cfg.spawn)
		d, err = startDaemon(ctx, daemonOptions{bin: cfg.spawn, extra: cfg.daemonArgs, keep: cfg.keepData,
			readyTimeout: cfg.readyTimeout, stderr: stderr})
		if err != nil {
			return err
		}
		// Whatever happens from here on, the daemon is stopped with SIGTERM and its directory removed. (On the
		// normal path it has been stopped already, before the report, which gave the outcome.)
		defer func() {
			if serr := d.stop(); serr != nil && rep.DaemonExit == "" {
				err = errors.Join(err, serr)
			}
		}()
		target, token = d.url, d.token
		rep.Spawned, rep.DaemonArgs = true, cfg.daemonArgs
		fmt.Fprintf(stderr, "dispatchd-load: daemon ready at %s (data dir %s)\n", d.url, d.dir)
	}
	rep.Target = target

	api := &apiClient{base: target, http: &http.Client{Timeout: 30 * time.Second, Transport: newTransport()}}
	// Closed before the daemon is stopped: a connection left open makes its graceful shutdown wait, up to 5 s for
	// one that was dialled for a request that another connection then served, and so never carried one.
	defer api.http.CloseIdleConnections()
	if cfg.spawn == "" {
		if err := api.ready(ctx); err != nil {
			return err
		}
	}
	setupStart := time.Now()
	fx, err := setup(ctx, api, token, cfg)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	api.http.CloseIdleConnections()
	fmt.Fprintf(stderr, "dispatchd-load: registered %d stores, %d couriers and an order key in %s (run %s)\n",
		len(fx.stores), len(fx.couriers), time.Since(setupStart).Round(time.Millisecond), fx.runID)

	var tr vegeta.Targeter
	switch cfg.mode {
	case modeOrders:
		tr = newOrderTargeter(target, fx).next
	case modeBatch:
		tr = newBatchTargeter(target, token, cfg.batch, newLocationTargeter(target, fx, cfg.center, cfg.areaM)).next
	default:
		tr = newLocationTargeter(target, fx, cfg.center, cfg.areaM).next
	}

	cfg.attack.transport = newTransport()
	// Set here, once: an option of vegeta's that sets it writes the shared transport at every step, while the
	// previous step's connections still read it (a data race).
	cfg.attack.transport.MaxIdleConnsPerHost = cfg.attack.connections
	defer cfg.attack.transport.CloseIdleConnections()
	if err := warmUp(ctx, cfg.attack.transport, target, int(cfg.attack.workers)); err != nil {
		return fmt.Errorf("open connections: %w", err)
	}
	for i, rate := range cfg.rates {
		if i > 0 && cfg.pause > 0 {
			if !sleep(ctx, cfg.pause) {
				break
			}
		}
		if d != nil {
			if exitErr, exited := d.exitedEarly(); exited {
				err = fmt.Errorf("the daemon exited during the run: %v", exitErr)
				break
			}
		}
		fmt.Fprintf(stderr, "dispatchd-load: step %d/%d: %s at %d/s for %s\n", i+1, len(cfg.rates), cfg.mode, rate, cfg.duration)
		self := beginSelfView(ctx, api.http, metricsTarget(target, cfg.daemonArgs), token, routeOf(cfg.mode))
		st := runStep(ctx, tr, rate, cfg.duration, cfg.attack, fmt.Sprintf("%s-%d", cfg.mode, rate))
		self.end(ctx, &st)
		st.Sustained = sustained(st, cfg.p99Limit)
		rep.Steps = append(rep.Steps, st)
		fmt.Fprintf(stderr, "dispatchd-load:   %s\n", st.brief())
		if ctx.Err() != nil {
			break
		}
	}
	// Closed before the daemon is stopped: see newTransport.
	cfg.attack.transport.CloseIdleConnections()
	if d != nil {
		// Stopped before the report so that a crash or a failed shutdown is part of it.
		if serr := d.stop(); serr != nil {
			rep.DaemonExit = serr.Error()
			err = errors.Join(err, serr)
		} else {
			rep.DaemonExit = "stopped cleanly on SIGTERM"
		}
	}
	if best, ok := highestSustained(rep.Steps); ok {
		rep.BestRate = best.Rate
	}
	printReport(stdout, rep)
	if cfg.jsonPath != "" {
		if jerr := writeJSON(cfg.jsonPath, rep); jerr != nil {
			err = errors.Join(err, jerr)
		}
	}
	if ctx.Err() != nil {
		err = errors.Join(err, errors.New("interrupted; the steps above are partial"))
	}
	return err
}

// sleep waits for d or until ctx ends; it reports whether the whole pause elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
