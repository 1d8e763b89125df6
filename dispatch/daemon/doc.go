// Package daemon is dispatchd's live driver of the dispatch engine: the event loop that owns the engine and all
// state, the journal that makes every accepted change durable before it is acknowledged, recovery after a restart,
// and the immutable snapshots that reads, metrics and courier streams use without entering the loop.
//
// A *Daemon is the dispatcher's service.Service: the types it takes and shows are dispatch/service's, and the HTTP
// API is written against that interface, never against this package. Its answers are domain values and
// *dispatch.Error, never HTTP: an idempotency key remembers the order as first answered (idempotency.go), and the
// API writes the first answer and every retry alike.
//
// # The loop
//
// One goroutine (Daemon.Run) owns the engine and the daemon's own state (order views with their customers and
// external ids, stores, couriers and their tokens, order-service keys, idempotency keys). API calls become requests
// on a bounded queue (full: ErrOverloaded, which the API answers with 503 and Retry-After); a ticker triggers
// dispatch rounds. The loop takes requests in batches; each accepted change becomes a record that is applied
// (engine first, then the views) and appended to the journal. After a batch the loop freezes its copy-on-write maps
// (internal/cow) into a View, which is published once every record in it is on disk, so nothing a reader or a
// courier stream sees can be lost by a crash. A caller whose request wrote a record is answered when the record is
// durable and a View containing it is published. Every request is served as it comes: nothing waits for a round.
//
// A dispatch round plans off the loop. At a tick the loop takes a copy of what a round reads (dispatch.Planner)
// and hands it to a goroutine of its own, one round at a time; the round's dispatch.Decision comes back to the loop,
// which applies it like any other change: dispatch.Engine.ApplyDecision checks each courier's part against the
// state now (an order cancelled or picked up meanwhile, a courier gone offline, a route changed since) and applies
// what holds; the rest waits for the next round. The record journaled is the decision as applied (a "decision"
// record: the routes, versions and times that held), so a replay applies exactly that and plans nothing. A round
// considers at most dispatch.Config.MaxRoundOrders pending orders, the most urgent first, so that a backlog does
// not make rounds ever longer.
//
// # Durability and recovery
//
// Records are written by the journal's group commit (one fsync for every record that arrived while the previous
// one synced). Courier positions are the exception: they are applied at once and journaled lazily, the latest of
// each courier in one record written just before the next record of any kind, which is all a replay needs to
// reach the same state. Every few minutes (or records) a checkpoint of the whole state (the engine's exported
// state and the daemon's views) is written and the records it covers are dropped; the minutes run from the last
// checkpoint across restarts, so a start that replayed an old journal checkpoints at once. The loop copies the engine
// (dispatch.Engine.Clone) and freezes the views; the export, the encoding and the writing happen off the loop,
// streamed, each megabyte handed to the disk before the next, so that the journal's fsyncs do not wait behind it.
// Open loads the last checkpoint and applies the journal after it through the very same apply as the live path.
// Journals written before rounds were decisions hold "tick" records instead; a replay runs those as rounds.
//
// Recovery checks what it reads: a torn tail of the journal or the event log is cut off and logged; damage with
// intact records after it, a checkpoint that fails its checksum, or a journal or event log that no longer reaches
// what the checkpoint covers stops Open with an error that names what is wrong (Config.Salvage starts anyway on
// what is intact, and logs what it lost). A journal commit that fails (a full disk) leaves the daemon read-only:
// the loop's state is then ahead of the disk, so writes answer unavailable and Ready is false until a restart
// rebuilds the state from what is on disk.
//
// # Order events and webhooks
//
// Every order change becomes a service.OrderEvent (events.go), made as records are applied, so that a replay makes
// the same events with the same ids. Events go to the event log (internal/eventlog) when the View that carries them is
// published, and from there to GET /v1/events and to the webhook workers (internal/webhook, configured in
// webhooks.go), which read the log through an interface of their own and never the loop: a receiver that is down or
// slow cannot slow dispatching.
//
// # A region's daemon in a cluster: owner or warm standby
//
// Config.Journal and Config.Checkpoints hand the daemon a region's journal (a replicated stream, whose numbers
// may have gaps) and checkpoint store instead of the data directory's (standby.go, docs/cluster.md). An owner runs
// as above on them. A standby (Config.Standby) opens from the store's latest checkpoint and applies what Follow
// hands it through recovery's apply (a round's decision is applied, not planned), so its views, event ids, event
// log and courier streams are the owner's; it refuses commands, plans nothing and writes no journal record,
// checkpoint or webhook. Promote replays the journal after the standby's position and serves; Abandon stops an
// owner whose lease is gone with no append after it. The owner journals its webhooks' delivery cursors
// (webhook_cursors), so that a new owner resumes deliveries after them, at least once.
package daemon
