package httpapi

import (
	"net/http"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

type inventoryBody struct {
	Set    map[string]int `json:"set,omitempty"`
	Adjust map[string]int `json:"adjust,omitempty"`
}

// patchInventory changes a store's stock: PATCH /v1/stores/{store_id}/inventory {"set": {…}, "adjust": {…}}.
func (s *Server) patchInventory(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	var b inventoryBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	v, err := s.d.PatchInventory(r.Context(), r.PathValue("store_id"), service.InventoryChange{Set: b.Set, Adjust: b.Adjust})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// storeActions are the steps a store takes on its in-store pick-up orders, by path segment.
var storeActions = map[string]string{"ready": service.StoreActionReady, "collected": service.StoreActionCollected}

// storeOrderAction: POST /v1/stores/{store_id}/orders/{order_id}/ready and /collected. Order services relay what
// the store's staff do (and admins may); another store's order is 404.
func (s *Server) storeOrderAction(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	action, ok := storeActions[r.PathValue("action")]
	if !ok {
		return apiError(dispatch.ENotFound, "", "no such store action %q", r.PathValue("action"))
	}
	var b struct{}
	if err := decode(w, r, &b, true); err != nil {
		return err
	}
	o, err := s.d.StoreOrderAction(r.Context(), r.PathValue("store_id"), r.PathValue("order_id"), action)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, o.LateAt(s.cfg.Now()))
	return nil
}
