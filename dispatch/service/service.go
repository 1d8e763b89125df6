package service

import (
	"context"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
)

// Service is everything the dispatcher offers its clients: the HTTP API is written against it, and the daemon
// (dispatch/daemon) implements it. Commands change the state through the daemon's journal and return once their
// change is durable and readable; reads go to a View, a published snapshot, and never wait for a command.
//
// Errors are *dispatch.Error values whose Code says what kind of failure it is (not found, invalid with the field
// named, conflict, unavailable, ...); the API maps each code to one HTTP status.
type Service interface {
	Reader
	Orders
	Stores
	Couriers
	Keys
	Webhooks
	Events
	Overrides
}

// Reader gives the latest published snapshot and says whether the dispatcher serves.
type Reader interface {
	// View returns the latest published snapshot: everything in it is durable.
	View() View
	// Ready reports whether the dispatcher takes commands (it has recovered and its journal is writable).
	Ready() bool
	// Done is closed when the dispatcher has stopped.
	Done() <-chan struct{}
}

// View is an immutable snapshot of the dispatcher's state after one journal record. It may be read from any
// goroutine; what it returns is shared and must not be changed.
type View interface {
	// Seq is the last journal record the snapshot contains.
	Seq() uint64
	// At is the dispatcher's clock when the snapshot was made.
	At() time.Time
	// Order returns an order by id (open, or finished within retention).
	Order(id string) (*Order, bool)
	// ListOrders returns a page of the orders that match f, oldest first, and whether more follow.
	ListOrders(f OrderFilter) (page []*Order, more bool)
	// EachOrder calls fn with every order, in no particular order, until fn returns false.
	EachOrder(fn func(*Order) bool)
	// OrdersByStatus counts the orders (open, and finished within retention) by status.
	OrdersByStatus() map[string]int
	// CouriersByStatus counts the couriers by status.
	CouriersByStatus() map[string]int
	// LastRound is the last dispatch round's figures.
	LastRound() dispatch.Stats
	// Store returns a store by id.
	Store(id string) (*Store, bool)
	// Stores returns every store, by id.
	Stores() []*Store
	// StoreCount is how many stores there are.
	StoreCount() int
	// StoresNear returns the stores within radius metres of p, nearest first.
	StoresNear(p Location, radius float64) []*Store
	// Courier returns a courier by id.
	Courier(id string) (*Courier, bool)
	// Couriers returns the couriers of a status ("" for all), by id.
	Couriers(status string) []*Courier
	// Route returns a courier's current route (false when it has none).
	Route(courierID string) (*Route, bool)
	// APIKeys lists the API keys, revoked ones included.
	APIKeys() []*APIKey
	// Authenticate finds who a token belongs to, by its HashToken (a courier or a live API key).
	Authenticate(tokenHash []byte) (Principal, bool)
}

// Orders places, quotes and cancels orders.
type Orders interface {
	// PlaceOrder places an order for p. With an idempotency key (scoped to p), the answer is remembered: the same
	// key with the same request (reqHash, the request's fingerprint) returns the order as first answered, another
	// request with it is an EIdempotencyMismatch error. The order returned is as it stood when placed.
	PlaceOrder(ctx context.Context, p Principal, idemKey string, reqHash []byte, in OrderInput) (*Order, error)
	// Quote says whether an order could be delivered and when, changing nothing.
	Quote(ctx context.Context, in OrderInput) (*Quote, error)
	// CancelOrderAs cancels an order; who (Principal.Who) goes into its timeline.
	CancelOrderAs(ctx context.Context, who, id, reason string) (*Order, error)
	// OrderWithLeg returns o with its courier's ride to the door drawn on the road map, when that is its next
	// stop and there is a map (else o).
	OrderWithLeg(o *Order) *Order
}

// Stores manages stores, their stock and their in-store pick-up orders.
type Stores interface {
	// PutStore creates or replaces a store; created says which.
	PutStore(ctx context.Context, in StoreInput) (s *Store, created bool, err error)
	// DeleteStore deletes a store that has no open order.
	DeleteStore(ctx context.Context, id string) error
	// StoreDetail returns a store with its stock, reservations and picking queue.
	StoreDetail(ctx context.Context, id string) (*Store, error)
	// PatchInventory changes a store's stock.
	PatchInventory(ctx context.Context, storeID string, in InventoryChange) (*Store, error)
	// StoreOrderAction records a store's step on an in-store pick-up order (StoreActionReady or
	// StoreActionCollected).
	StoreOrderAction(ctx context.Context, storeID, orderID, action string) (*Order, error)
}

// Couriers manages couriers, their shifts, positions, steps and route streams.
type Couriers interface {
	// PutCourier creates or replaces a courier; its token is returned when it is made or rotated.
	PutCourier(ctx context.Context, in CourierInput, rotate bool) (c *Courier, token string, created bool, err error)
	// SetShift starts (online) or ends a courier's shift.
	SetShift(ctx context.Context, courierID string, online bool, loc *Location, shiftEnd *time.Time) (*Courier, error)
	// QueueLocation takes a courier's position report without waiting for it to be applied (it needs no answer
	// but "received"); an overloaded dispatcher refuses it as unavailable.
	QueueLocation(courierID string, loc Location, at time.Time) error
	// QueueLocations takes many couriers' positions at once, likewise; one bad entry refuses the batch, naming it.
	QueueLocations(batch []LocationUpdate) error
	// CourierAction records a courier's accept, decline, arrived, picked_up, delivered or failed on one of its
	// orders; an order that is not the courier's is not found.
	CourierAction(ctx context.Context, courierID, orderID, action, reason string) (*Order, error)
	// CourierRoute returns a courier's route with its legs drawn on the road map (when there is one).
	CourierRoute(courierID string) (*Route, bool)
	// Subscribe wakes a courier's stream when its route may have changed.
	Subscribe(courierID string) Subscription
	// StreamsDone is closed when the streams are to end (the dispatcher is shutting down).
	StreamsDone() <-chan struct{}
}

// Subscription is a courier stream's wake-up call.
type Subscription interface {
	// Wake receives when the courier's route may have changed.
	Wake() <-chan struct{}
	// Done is closed when every stream is to end.
	Done() <-chan struct{}
	// Close ends the subscription.
	Close()
}

// Keys manages API keys.
type Keys interface {
	// CreateRoleKey makes an API key of a role (one of KeyRoles); the key itself is returned once.
	CreateRoleKey(ctx context.Context, name, role string) (*APIKey, string, error)
	// RevokeAPIKey revokes a key: it authenticates no more.
	RevokeAPIKey(ctx context.Context, id string) error
}

// Webhooks manages the endpoints order events are delivered to.
type Webhooks interface {
	// PutWebhook creates or replaces a webhook; created says which.
	PutWebhook(ctx context.Context, in WebhookInput) (w *Webhook, created bool, err error)
	// DeleteWebhook removes a webhook; deliveries to it stop.
	DeleteWebhook(ctx context.Context, id string) error
	// WebhookView returns a webhook with how its deliveries go.
	WebhookView(id string) (*Webhook, bool)
	// WebhookViews returns every webhook with how its deliveries go, by id.
	WebhookViews() []*Webhook
}

// Events reads the order events.
type Events interface {
	// Events returns up to limit events after the id after, and a channel closed when more may have come.
	Events(after uint64, limit int) ([]OrderEvent, <-chan struct{}, error)
	// LastEventID is the id of the latest event (0: none yet).
	LastEventID() uint64
}

// Overrides are an operator's changes to what the dispatcher decided. who (Principal.Who) goes into the orders'
// timelines and events. A refusal is a conflict naming the rule (dispatch.Error.Reasons) and the field.
type Overrides interface {
	// AssignOrder puts an order on a courier's route (locked: rounds leave it there).
	AssignOrder(ctx context.Context, who, orderID, courierID string, lock bool) (*Order, error)
	// UnassignOrder takes an assigned order off its courier's route, back to the pool.
	UnassignOrder(ctx context.Context, who, orderID string) (*Order, error)
	// UnlockOrder lets rounds move an order again.
	UnlockOrder(ctx context.Context, who, orderID string) (*Order, error)
	// MoveOrders puts several orders on one courier's route, all or nothing, and returns them in the order given.
	MoveOrders(ctx context.Context, who, courierID string, orderIDs []string, lock bool) ([]*Order, error)
	// PauseStore pauses (or resumes) dispatch for a store's orders.
	PauseStore(ctx context.Context, who, storeID string, pause bool) (*Store, error)
	// OffShift takes a courier off shift, returning its orders not yet on board to the pool.
	OffShift(ctx context.Context, who, courierID string) (*OffShiftResult, error)
}
