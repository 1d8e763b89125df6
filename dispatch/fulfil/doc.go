// Package fulfil is the store side of online-to-offline fulfilment: each store's stock, opening hours and picking
// queue, and the choice of the store that serves an order.
//
// An order may name its store or only its items. For items, Network.Choose walks the stores around the drop-off,
// nearest first (an R-tree, so 5 000 stores cost no more than the few looked at), skips those without every item
// in available stock (on hand minus what live orders have reserved), times the order at the first
// Config.Candidates that have it and takes the earliest estimated drop-off within the promise. Timing an order
// at a store (see Network.evaluate) combines:
//
//   - the picking queue: a store prepares up to Store.Pickers orders at once (the API's max_active_orders), first
//     come first served, so with k orders in preparation and k >= Pickers a new order starts when the
//     (k-Pickers+1)-th of them is ready;
//   - the opening hours (Hours, wall-clock spans in the store's time zone): preparation happens while the store
//     is open, an order must be ready Config.PickupMargin before closing or it waits for the next opening, and
//     the end of that opening becomes the order's latest pick-up (dispatch.OrderSpec.PickupBy), so the engine
//     never plans a pick-up at a closed store;
//   - the ride from the store to the door (Config.Travel), except for orders the customer collects.
//
// When no store can keep the promise the error says why for each store looked at: out_of_stock, closed,
// store_busy, too_far (or store_not_found, no_store_in_reach).
//
// Network.Reserve commits a choice: the items are reserved and the ready time joins the store's queue. Release
// (cancellation) gives them back; HandOver (the courier or the customer took the goods) takes them off the stock
// on hand. Stock on hand never goes below what is reserved: an inventory change that would is refused whole.
//
// Like the dispatch engine, a Network reads no clock, random source or disk (times are arguments; time zones are
// resolved by the caller) and belongs to one goroutine. The daemon keeps it on its event loop beside the engine,
// so that orders are placed while a dispatch round runs; the simulator drives it in virtual time.
package fulfil
