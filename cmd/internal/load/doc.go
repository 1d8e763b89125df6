// Package load is the logic of dispatchd-load (cmd/dispatchd-load only calls ParseFlags and Run). It measures
// dispatchd's order intake and courier location updates at a constant request rate, the way docs/benchmarks.md
// ("What each figure must show", intake) asks: a bounded load from a second process on loopback, driven by the
// vegeta library so that a slow answer delays nothing that follows it (the rate is held by the clock, not by the
// answers), reporting p50/p90/p99/max latency, status codes and errors. Its drive mode runs order services and
// working couriers against the daemon together, and its crash mode does so while it kills the daemon again and
// again, then checks that nothing acknowledged was lost.
//
// It either starts a daemon itself (--spawn: on a free loopback port, with a fresh temporary data directory and a
// generated admin token, stopped with SIGTERM at the end whatever happens, Ctrl-C included) or attacks one that
// runs already (--target with the admin token). Through the API it then registers --stores stores on a grid
// around --center, an order-service key and, for the locations, drive and crash modes, --couriers couriers that
// it puts online.
// It opens --workers connections, and attacks:
//
//   - orders: POST /v1/orders, each with its own Idempotency-Key and external_id, a random store and a drop-off
//     0.5 to 4 km from it. A 201 means the order is in the journal on disk.
//   - locations: POST /v1/courier/location, taking the couriers in turn, each a few metres on from its last
//     position.
//
// # Drive
//
// --mode drive is a day in miniature, over the real API only. Order services place orders at --rate a second
// (drop-offs as above, --prep-seconds and --promise-seconds each, a share --cancel-share cancelled 1 to 10 s
// later), and --couriers couriers, all online, report --location-rate positions a second between them: each its
// own POST /v1/courier/location by default (the rate limit of 50 a second per courier wants at least one courier
// per 40 positions a second), or --location-batch N a request by the gateway endpoint POST /v1/courier-locations.
// Both rates are held by a clock-paced loop that never waits for an answer (at most --max-workers requests of
// each in flight; a tick with none free is counted as not sent). Each courier keeps its route stream open
// (GET /v1/courier/stream, reconnecting with Last-Event-ID), accepts what is new on its route, rides to the first
// stop in a straight line at e-bike speed (5 m/s) times --time-scale, arrives, waits until the order's ready_at
// (from its 201) and picks it up, or hands it over, and reads its route again. The daemon keeps real time, so
// ready times and promises pass at the normal pace while the couriers ride faster. The order and position loads
// start once every courier's stream is open (the fleet is online before the day's orders flow). After --duration
// the load stops, the couriers work on for --drain, and the orders of the run are read back (GET /v1/orders).
//
// The report has one row per class of request (orders, positions, courier actions, route reads, stream
// connects, cancellations, retries, replays) with p50/p90/p99/max and status codes; the dispatch outcome from the
// daemon's own answers (placed, ever assigned, picked up, delivered, delivered after deliver_by, cancelled, still
// open); the checks below; and whether the load held: no error in any class, the order intake's p99 under
// --p99-limit and both rates sent in full. A courier acting on an order that has just moved to another route gets
// 404 or 409: those count as stale, not as errors.
//
// # Crash
//
// --mode crash is the drive against a daemon started with --spawn (with --dispatch-interval=1s unless a
// --daemon-arg sets another), which it SIGKILLs --kills times at moments drawn from --seed (random and printed
// when not given), restarting it on the same data directory, port and token each time and waiting for GET
// /readyz. Placements without a usable answer (a kill cut them off, the daemon was down, or answered 503 or 429)
// are retried with the same Idempotency-Key and body until they are answered. The checks:
//
//   - after every restart: every order answered 201 before the kill is listed, once, at a status no earlier than
//     the last one the daemon acknowledged to the load (pending and assigned count as one, as the dispatcher may
//     take an order back); a few of them placed again with their key and body come back as the same order;
//   - on every route read: its version never goes back, and no stop is for an order acknowledged delivered,
//     cancelled or failed, nor a pickup for one acknowledged picked up;
//   - at the end, after a graceful stop and a restart with no dispatch round due, on that frozen state: every
//     order answered 201 is listed exactly once, by id and by external_id; none is listed that nobody asked for;
//     no status went back; every timeline is a legal, time-ordered sequence ending at the order's status; every
//     assigned order has its pickup and drop-off on its courier's route, every picked-up one its drop-off, and
//     no route holds anything else; every placement cut off by a kill, and a sample of the others, placed again
//     with its key and body, comes back as the same order.
//
// The drive mode makes the same checks, the final one on the live state (only what a round cannot change in the
// meantime). Any violation is listed and makes the exit status 1; so does a placement still without an answer.
//
// # Chaos
//
// --mode chaos needs --spawn (a dispatchd binary) and --nats-server (default bin/nats-server): it starts three
// nats-servers (JetStream, sync_interval: always) and three dispatchd --cluster nodes on loopback with --regions
// (four by default) and --lease-ttl (3 s), each node reaching the servers through a proxy of the harness, and
// places orders at --rate (50) over all nodes, retried with their key. It measures the load each node carries
// before and after one is killed; SIGKILLs a region's owner --kills times (20, regions drawn from --seed, printed)
// and times each failover (from the kill to the region's first 201 through another node, polled every 100 ms);
// kills a nats-server; cuts a node off from NATS while it serves HTTP (no 201 may come from it for its regions,
// and they must move). Then it checks as the crash mode does, through the API, plus each region's events from 0
// (no gap, every acknowledged order created once) and each region's stream (no record of an older writer's epoch
// after a newer one's). docs/cluster.md describes the run and its figures.
//
// # Sweeps
//
// One rate (--rate, for --duration) or a sweep (--sweep, one step per rate, --pause between steps, the same
// daemon and connections throughout). The table on stdout has one row per step; --json writes the same figures
// plus a per-second breakdown (requests, errors, slowest answer), which shows when the daemon stalled. A step is
// sustained when it had no error (any answer other than 2xx, or none), its p99 stayed under --p99-limit and its
// throughput reached 98% of the rate asked; the summary names the highest sustained rate.
//
// Examples:
//
//	go build -o /tmp/dispatchd ./cmd/dispatchd && go build -o /tmp/dispatchd-load ./cmd/dispatchd-load
//	dispatchd-load --spawn /tmp/dispatchd --mode orders --rate 1000 --duration 30s
//	dispatchd-load --spawn /tmp/dispatchd --mode locations --rate 8000 --duration 10s --couriers 2000
//	dispatchd-load --spawn /tmp/dispatchd --mode orders --sweep 1000,2000,3000,4000 --json orders.json \
//	    --daemon-arg=--dispatch-interval=10s --daemon-arg=--queue-size=8192
//	dispatchd-load --target http://127.0.0.1:8080 --admin-token-file var/admin.token --mode orders --rate 500
//	dispatchd-load --spawn /tmp/dispatchd --mode drive --rate 1000 --location-rate 5000 --duration 60s --p99-limit 10ms
//	dispatchd-load --spawn bin/dispatchd --mode chaos --kills 20 --seed 19
//	dispatchd-load --spawn /tmp/dispatchd --mode crash --kills 20 --rate 100 --location-rate 1000 --couriers 300 \
//	    --time-scale 100 --prep-seconds 5 --duration 60s
//
// A spawned daemon's data directory is made under $TMPDIR (else /tmp): put it on the disk to be measured, since
// on a tmpfs the fsync behind every 201 costs nothing. The daemon writes its log to dispatchd.log in that
// directory (itself, not through a pipe that the load generator would have to keep emptying); its first lines
// are shown at the end, and --keep-data keeps both.
//
// The load is for a daemon on this machine: a --target off the loopback interface is refused unless
// --allow-remote is given. Against a running daemon the admin token comes from --admin-token-file, --admin-token
// or the environment variable DISPATCHD_ADMIN_TOKEN (in that order; a token on the command line is visible to
// other users of the machine). Stores are named load-store-N and couriers load-courier-N, so that runs against the same daemon reuse
// them (a courier's token is rotated to learn it); order ids and keys carry a random run id. What the load
// creates stays in that daemon.
//
// Both processes share the machine: on a small one the load generator's own CPU use limits the rates it can
// drive, and the "sent/s" column falls below the rate asked when it could not keep up.
package load
