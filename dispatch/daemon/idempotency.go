package daemon

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// idemRecord is a remembered answer to an order placed with an Idempotency-Key: the order as it stood when placed
// (Late as of then), which a retry with the same key and request gets again. How an answer is shown is the API's
// business: it renders the first answer and every retry the same way, so a retry is answered byte for byte alike.
type idemRecord struct {
	Hash    []byte
	At      time.Time
	OrderID string
	Order   *service.Order
	// seq is the journal record that made it (in memory only): a retry must not be answered before it is durable.
	seq uint64
}

// idemStoredStatus is the status the stored form of an entry holds: only placements are remembered, and the API
// answers a placement with 201 Created.
const idemStoredStatus = 201

// stored is the entry as checkpoints keep it (version 1's JSON and version 2's idem record alike): the status and
// the body of the answer, the order's JSON.
func (r *idemRecord) stored() (status int, body []byte) {
	return idemStoredStatus, mustJSON(r.Order)
}

// idemFromStored reads an entry kept as a status and a body (see stored). A status other than 201, or a body that is
// not an order, is refused, naming the field.
func idemFromStored(hash []byte, at time.Time, orderID string, status int, body []byte) (*idemRecord, error) {
	if status != idemStoredStatus {
		return nil, fmt.Errorf("status is %d; an idempotency entry remembers a placement (%d)", status, idemStoredStatus)
	}
	var o service.Order
	if err := json.Unmarshal(body, &o); err != nil {
		return nil, fmt.Errorf("body is not an order: %w", err)
	}
	if o.ID != orderID {
		return nil, fmt.Errorf("body is order %q, the entry names %q", o.ID, orderID)
	}
	if o.Region == "" {
		o.Region = service.DefaultRegion // an answer remembered before regions existed
	}
	if _, err := json.Marshal(&o); err != nil {
		// stored must be able to write it again (a time out of JSON's range, say).
		return nil, fmt.Errorf("body: %w", err)
	}
	return &idemRecord{Hash: hash, At: at, OrderID: orderID, Order: &o}, nil
}

// idemJSON is an entry's stored form in a checkpoint of version 1.
type idemJSON struct {
	Hash    []byte    `json:"hash"`
	Status  int       `json:"status"`
	Body    []byte    `json:"body"`
	At      time.Time `json:"at"`
	OrderID string    `json:"order_id"`
}

// UnmarshalJSON reads the stored form of version 1.
func (r *idemRecord) UnmarshalJSON(b []byte) error {
	var j idemJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	e, err := idemFromStored(j.Hash, j.At, j.OrderID, j.Status, j.Body)
	if err != nil {
		return err
	}
	*r = *e
	return nil
}

// MarshalJSON writes the stored form of version 1.
func (r *idemRecord) MarshalJSON() ([]byte, error) {
	status, body := r.stored()
	return json.Marshal(idemJSON{Hash: r.Hash, Status: status, Body: body, At: r.At, OrderID: r.OrderID})
}
