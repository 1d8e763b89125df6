package httpapi

import (
	"net/http"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/dispatch/service"
)

// overrideRoutes registers the dispatcher's overrides: for the admin and operators only. A refusal is 409 with the
// rule in error.reasons and the field to blame in error.field.
func (s *Server) overrideRoutes() {
	s.handle("POST /v1/orders/{id}/assign", s.assignOrder, admin, operator)
	s.handle("POST /v1/orders/{id}/unassign", s.unassignOrder, admin, operator)
	s.handle("POST /v1/orders/{id}/unlock", s.unlockOrder, admin, operator)
	s.handle("POST /v1/dispatch/moves", s.moveOrders, admin, operator)
	s.handle("POST /v1/stores/{store_id}/pause", s.pauseStore, admin, operator)
	s.handle("POST /v1/stores/{store_id}/resume", s.resumeStore, admin, operator)
	s.handle("POST /v1/couriers/{courier_id}/off-shift", s.offShift, admin, operator)
}

// assignBody is POST /v1/orders/{id}/assign.
type assignBody struct {
	CourierID string `json:"courier_id"`
	Lock      bool   `json:"lock,omitempty"`
}

// moveBody is POST /v1/dispatch/moves.
type moveBody struct {
	CourierID string   `json:"courier_id"`
	OrderIDs  []string `json:"order_ids"`
	Lock      bool     `json:"lock,omitempty"`
}

// movesView is the answer to POST /v1/dispatch/moves: the orders moved, in the order given.
type movesView struct {
	Orders []service.Order `json:"orders"`
}

func (s *Server) assignOrder(w http.ResponseWriter, r *http.Request, p service.Principal) error {
	var b assignBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	if b.CourierID == "" {
		return apiError(dispatch.EInvalid, "courier_id", "courier_id is required")
	}
	o, err := s.d.AssignOrder(r.Context(), p.Who(), r.PathValue("id"), b.CourierID, b.Lock)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, o.LateAt(s.cfg.Now()))
	return nil
}

func (s *Server) unassignOrder(w http.ResponseWriter, r *http.Request, p service.Principal) error {
	o, err := s.d.UnassignOrder(r.Context(), p.Who(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, o.LateAt(s.cfg.Now()))
	return nil
}

func (s *Server) unlockOrder(w http.ResponseWriter, r *http.Request, p service.Principal) error {
	o, err := s.d.UnlockOrder(r.Context(), p.Who(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, o.LateAt(s.cfg.Now()))
	return nil
}

func (s *Server) moveOrders(w http.ResponseWriter, r *http.Request, p service.Principal) error {
	var b moveBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	switch {
	case b.CourierID == "":
		return apiError(dispatch.EInvalid, "courier_id", "courier_id is required")
	case len(b.OrderIDs) == 0:
		return apiError(dispatch.EInvalid, "order_ids", "order_ids is required")
	case len(b.OrderIDs) > dispatch.MaxMoveOrders:
		return apiError(dispatch.EInvalid, "order_ids", "at most %d orders move at once", dispatch.MaxMoveOrders)
	}
	views, err := s.d.MoveOrders(r.Context(), p.Who(), b.CourierID, b.OrderIDs, b.Lock)
	if err != nil {
		return err
	}
	out := movesView{Orders: make([]service.Order, len(views))}
	now := s.cfg.Now()
	for i, v := range views {
		out.Orders[i] = v.LateAt(now)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) pauseStore(w http.ResponseWriter, r *http.Request, p service.Principal) error {
	return s.setStorePaused(w, r, p, true)
}

func (s *Server) resumeStore(w http.ResponseWriter, r *http.Request, p service.Principal) error {
	return s.setStorePaused(w, r, p, false)
}

func (s *Server) setStorePaused(w http.ResponseWriter, r *http.Request, p service.Principal, pause bool) error {
	v, err := s.d.PauseStore(r.Context(), p.Who(), r.PathValue("store_id"), pause)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) offShift(w http.ResponseWriter, r *http.Request, p service.Principal) error {
	res, err := s.d.OffShift(r.Context(), p.Who(), r.PathValue("courier_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
