package daemon

import (
	"fmt"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// Regions. Stores and couriers carry a region (service.DefaultRegion unless registered with another); an order
// belongs to its store's region, and the engine gives it only to couriers of that region. One daemon may hold
// every region in its one engine, or serve one (Config.Region), as a cluster runs it.

// homeRegion is the region of a store or courier registered without one: the daemon's own, or the default.
func (d *Daemon) homeRegion() string {
	if d.cfg.Region != "" {
		return d.cfg.Region
	}
	return service.DefaultRegion
}

// Reasons of a 422 about regions (dispatch.Error.Reasons).
const (
	// ReasonRegionNotServed: the request names a region this daemon does not serve (Config.Region).
	ReasonRegionNotServed = "region_not_served"
	// ReasonStoreInOtherRegion: the order names a store and a region, and the store is not in that region.
	ReasonStoreInOtherRegion = "store_in_other_region"
)

// checkRegion checks a region a request names (empty: none named): a valid name (400 otherwise, as every
// malformed field), and the daemon's own region when it serves one (422 otherwise: well formed, not served here).
func (d *Daemon) checkRegion(name string) error {
	if name == "" {
		return nil
	}
	if err := service.CheckRegion(name); err != nil {
		return err
	}
	if d.cfg.Region != "" && name != d.cfg.Region {
		return &dispatch.Error{Code: dispatch.EUnservable, Field: "region", Reasons: []string{ReasonRegionNotServed},
			Message: fmt.Sprintf("this dispatcher serves region %q, not %q", d.cfg.Region, name)}
	}
	return nil
}

// checkRegionChange refuses a store_put that moves a store with open orders to another region: its orders belong
// to the region of the couriers that carry them (in-store pick-up and scheduled orders count: they are open).
func (d *Daemon) checkRegionChange(in *service.Store) error {
	old, ok := d.st.stores.Get(in.ID)
	if !ok || old.Region == in.Region || old.ActiveOrders == 0 {
		return nil
	}
	return errorf(dispatch.EConflict, "region", "store %q has %d open orders in region %q; its region can change once they are finished",
		in.ID, old.ActiveOrders, old.Region)
}

// orderRegion checks the region an order or quote names against the daemon and the store it names, and says
// which region's stores an order by items chooses among ("" : the drop-off's region, see fulfil.Network.Choose).
func (d *Daemon) orderRegion(in *service.OrderInput) (string, error) {
	if err := d.checkRegion(in.Region); err != nil {
		return "", err
	}
	if in.StoreID != "" && in.Region != "" {
		if st, ok := d.st.stores.Get(in.StoreID); ok && st.Region != in.Region {
			return "", &dispatch.Error{Code: dispatch.EUnservable, Field: "region", Reasons: []string{ReasonStoreInOtherRegion},
				Message: fmt.Sprintf("store %q is in region %q, not %q", in.StoreID, st.Region, in.Region)}
		}
	}
	if in.Region == "" && d.cfg.Region != "" {
		return d.cfg.Region, nil
	}
	return in.Region, nil
}

// storeRegion is a store's region ("" for a store the daemon does not know).
func (d *Daemon) storeRegion(id string) string {
	if st, ok := d.st.stores.Get(id); ok {
		return st.Region
	}
	return ""
}
