package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
)

// apiClient makes the setup calls; the attack itself goes through vegeta.
type apiClient struct {
	base string
	http *http.Client
}

// call sends body as JSON with the bearer token and decodes the answer into out (when not nil). Any status other
// than those in want is an error that quotes the start of the answer.
func (c *apiClient) call(ctx context.Context, method, path, token string, body, out any, want ...int) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if !slices.Contains(want, resp.StatusCode) {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, truncate(string(bytes.TrimSpace(b)), 300))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decode the answer: %w", method, path, err)
		}
	}
	return nil
}

// ready checks that the target daemon answers GET /readyz with 200.
func (c *apiClient) ready(ctx context.Context) error {
	if err := c.call(ctx, http.MethodGet, "/readyz", "", nil, nil, http.StatusOK); err != nil {
		return fmt.Errorf("the target is not ready: %w", err)
	}
	return nil
}

type storeSite struct {
	id  string
	loc location
}

type courierSite struct {
	id    string
	token string
	loc   location
}

// fixture is what the setup registered: what the targeters need.
type fixture struct {
	// runID makes this run's idempotency keys and external ids differ from every other run's.
	runID    string
	orderKey string
	stores   []storeSite
	couriers []courierSite
	// dropMinM and dropMaxM bound a drop-off's distance from its store.
	dropMinM, dropMaxM float64
}

type storeRequest struct {
	Name            string   `json:"name"`
	Location        location `json:"location"`
	PrepSeconds     int      `json:"prep_seconds"`
	MaxActiveOrders int      `json:"max_active_orders"`
}

type courierRequest struct {
	Name     string `json:"name"`
	Vehicle  string `json:"vehicle"`
	Capacity int    `json:"capacity"`
}

type shiftRequest struct {
	Status   string    `json:"status"`
	Location *location `json:"location,omitempty"`
}

// setupWorkers is how many setup calls run at once: every call waits for the journal's fsync, and calls in flight
// together share one.
const setupWorkers = 16

// setup registers the stores, an order-service key and the couriers (put online) through the API.
func setup(ctx context.Context, api *apiClient, adminToken string, cfg *Config) (*fixture, error) {
	fx := &fixture{runID: randomHex(4), stores: storeGrid(cfg.center, cfg.areaM, cfg.stores), dropMinM: cfg.dropMinM,
		dropMaxM: cfg.dropMaxM}
	err := parallel(ctx, len(fx.stores), func(ctx context.Context, i int) error {
		s := fx.stores[i]
		// max_active_orders 0 is "no limit": a busy store must not turn the intake test into 422s.
		body := storeRequest{Name: "Load test " + s.id, Location: s.loc, PrepSeconds: 600, MaxActiveOrders: 0}
		return api.call(ctx, http.MethodPut, "/v1/stores/"+s.id, adminToken, body, nil, http.StatusOK, http.StatusCreated)
	})
	if err != nil {
		return nil, err
	}
	var key struct {
		Key string `json:"key"`
	}
	if err := api.call(ctx, http.MethodPost, "/v1/api-keys", adminToken, map[string]string{"name": "dispatchd-load " + fx.runID},
		&key, http.StatusCreated); err != nil {
		return nil, err
	}
	if key.Key == "" {
		return nil, fmt.Errorf("POST /v1/api-keys: the answer has no key")
	}
	fx.orderKey = key.Key

	fx.couriers = make([]courierSite, cfg.couriers)
	err = parallel(ctx, cfg.couriers, func(ctx context.Context, i int) error {
		c := &fx.couriers[i]
		c.id = fmt.Sprintf("load-courier-%d", i)
		c.loc = randomInSquare(cfg.center, cfg.areaM)
		var reg struct {
			Token string `json:"token"`
		}
		// rotate_token: a courier left by an earlier run against the same daemon gets a new token, which is the only
		// way to learn one.
		if err := api.call(ctx, http.MethodPut, "/v1/couriers/"+c.id+"?rotate_token=true", adminToken,
			courierRequest{Name: "Load test " + c.id, Vehicle: "ebike", Capacity: 4}, &reg, http.StatusOK, http.StatusCreated); err != nil {
			return err
		}
		if reg.Token == "" {
			return fmt.Errorf("PUT /v1/couriers/%s: the answer has no token", c.id)
		}
		c.token = reg.Token
		return api.call(ctx, http.MethodPost, "/v1/courier/shift", c.token, shiftRequest{Status: "online", Location: &c.loc}, nil, http.StatusOK)
	})
	if err != nil {
		return nil, err
	}
	return fx, nil
}

// parallel runs fn(0..n-1) on setupWorkers goroutines. The first error cancels the calls not yet made and is
// returned; so is the end of ctx.
func parallel(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, setupWorkers) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// storeGrid places n stores on a regular grid filling the square of side areaM around center, one per cell
// centre, row by row.
func storeGrid(center location, areaM float64, n int) []storeSite {
	cols := int(math.Ceil(math.Sqrt(float64(n))))
	rows := (n + cols - 1) / cols
	out := make([]storeSite, n)
	for i := range out {
		r, c := i/cols, i%cols
		north := (float64(r)+0.5)/float64(rows)*areaM - areaM/2
		east := (float64(c)+0.5)/float64(cols)*areaM - areaM/2
		out[i] = storeSite{id: fmt.Sprintf("load-store-%d", i), loc: offset(center, north, east)}
	}
	return out
}

func randomInSquare(center location, areaM float64) location {
	return offset(center, (rand.Float64()-0.5)*areaM, (rand.Float64()-0.5)*areaM)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
