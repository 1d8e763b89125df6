package sim

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/o2o-dispatch/dispatchd/dispatch"
	"github.com/o2o-dispatch/dispatchd/sim/kpi"
)

// FulfilSummary is the store side of a run (summary.json "fulfilment"). Times are in the scenario's time zone,
// durations in minutes.
type FulfilSummary struct {
	// Orders counts every order placed, for couriers or for collection; Accepted those a store took, Rejected
	// those none could.
	Orders        int     `json:"orders"`
	Accepted      int     `json:"accepted"`
	Rejected      int     `json:"rejected"`
	RejectedShare float64 `json:"rejected_share"`
	// RejectedByReason counts the rejected orders by the reason of the nearest store looked at; ReasonsMet counts
	// them by every reason met (an order may count under several).
	RejectedByReason map[string]int `json:"rejected_by_reason"`
	ReasonsMet       map[string]int `json:"reasons_met"`
	// ByItems counts the orders that named only their items; LaterSlot the accepted orders whose promise moved to
	// a later slot.
	ByItems   int `json:"by_items"`
	LaterSlot int `json:"later_slot"`
	// Missed counts the courier orders the store cancelled at closing because no courier had picked them up.
	Missed int `json:"missed_at_closing"`
	// StockOuts counts the times a product ran out at a store; Restocks the deliveries.
	StockOuts int `json:"stock_outs"`
	Restocks  int `json:"restocks"`

	// Overnight and Daytime split the accepted courier orders by whether their store was closed when they were
	// placed (prepared in a later opening) or not.
	Overnight Promised `json:"overnight"`
	Daytime   Promised `json:"daytime"`
	// Collect is the orders the customers collect in store.
	Collect CollectSummary `json:"collect"`

	// PickWait is, per accepted order, the minutes it waited for a picker; PeakQueue, per store, the most orders it
	// had taken and not yet had ready. Busiest lists the stores with the longest queues (at most ten).
	PickWait  kpi.Stats    `json:"pick_wait_min"`
	PeakQueue kpi.Stats    `json:"peak_queue"`
	Busiest   []StoreQueue `json:"busiest_stores"`

	// Opening holds the figures of the first opening, when some store opens after the start of the day.
	Opening *OpeningSummary `json:"opening,omitempty"`
	// Backlog is the orders accepted and not yet picked up or collected, at every sample.
	Backlog []BacklogPoint `json:"backlog"`
}

// Promised is how a group of accepted courier orders fared against their promise.
type Promised struct {
	Orders    int `json:"orders"`
	Delivered int `json:"delivered"`
	OnTime    int `json:"on_time"`
	// OnTimeShare is OnTime over Orders: delivered by the promise (the slot kept).
	OnTimeShare float64 `json:"on_time_share"`
	// Lateness is max(0, delivered − promise) over the delivered orders.
	Lateness kpi.Stats `json:"lateness_min"`
}

// CollectSummary is the orders collected in store.
type CollectSummary struct {
	Orders    int `json:"orders"`
	Accepted  int `json:"accepted"`
	Collected int `json:"collected"`
	// ReadyOnTimeShare is the share of accepted orders ready by their promise.
	ReadyOnTimeShare float64 `json:"ready_on_time_share"`
	// ReadyToCollected is the minutes between ready and collected.
	ReadyToCollected kpi.Stats `json:"ready_to_collected_min"`
}

// StoreQueue is one store's picking queue.
type StoreQueue struct {
	Store     string    `json:"store"`
	Kind      string    `json:"kind,omitempty"`
	Pickers   int       `json:"pickers"`
	Orders    int       `json:"orders"`
	PeakQueue int       `json:"peak_queue"`
	PeakAt    time.Time `json:"peak_at"`
	// PickWaitMean and PickWaitMax are in minutes.
	PickWaitMean float64 `json:"pick_wait_mean_min"`
	PickWaitMax  float64 `json:"pick_wait_max_min"`
}

// OpeningSummary is how the backlog of the first opening cleared.
type OpeningSummary struct {
	At time.Time `json:"at"`
	// BacklogAtOpening is the backlog at the first sample at or after the opening.
	BacklogAtOpening int `json:"backlog_at_opening"`
	// Peak is the largest backlog from the opening on, at PeakAt.
	Peak   int       `json:"backlog_peak"`
	PeakAt time.Time `json:"backlog_peak_at"`
	// OvernightOrders counts the accepted overnight orders for couriers, OvernightLeft those no courier picked up
	// (still waiting at the end of the run, or cancelled). OvernightCleared is when the last of them was picked up
	// (zero when some never were), OvernightClearedMin that many minutes after the opening.
	OvernightOrders     int       `json:"overnight_orders"`
	OvernightLeft       int       `json:"overnight_left"`
	OvernightCleared    time.Time `json:"overnight_cleared,omitzero"`
	OvernightClearedMin float64   `json:"overnight_cleared_after_min"`
	// The same for the overnight orders collected in store, which the customers' own timing drives.
	OvernightCollect           int       `json:"overnight_collect_orders"`
	OvernightCollectLeft       int       `json:"overnight_collect_left"`
	OvernightCollectCleared    time.Time `json:"overnight_collect_cleared,omitzero"`
	OvernightCollectClearedMin float64   `json:"overnight_collect_cleared_after_min"`
	// Normal is the backlog's normal level: its median over the last hour of orders, leaving out the orders
	// waiting for a courier past their promise (a backlog of late orders is not normal). BackToNormal is the first
	// sample after the peak with a backlog, late orders included, within 25 % of it (zero: never), BackToNormalMin
	// minutes after the opening.
	Normal          float64   `json:"normal_backlog"`
	BackToNormal    time.Time `json:"back_to_normal,omitzero"`
	BackToNormalMin float64   `json:"back_to_normal_after_min"`
}

// BacklogPoint is the backlog at one sample.
type BacklogPoint struct {
	At time.Time `json:"at"`
	// Backlog is the orders accepted and not yet picked up or collected, Overnight those of them accepted while
	// their store was closed, Overdue those waiting for a courier past their promise, Preparing the orders
	// accepted and not yet ready.
	Backlog   int `json:"backlog"`
	Overnight int `json:"overnight"`
	Overdue   int `json:"overdue"`
	Preparing int `json:"preparing"`
}

// normalMargin is how close to its normal level the backlog must come to count as back to normal.
const normalMargin = 1.25

func summarizeFulfil(r *Result) *FulfilSummary {
	fr := r.Fulfil
	loc := r.Start.Location()
	f := &FulfilSummary{Orders: len(r.Orders), RejectedByReason: map[string]int{}, ReasonsMet: map[string]int{},
		StockOuts: len(fr.StockOuts), Restocks: fr.Restocks}
	var lateOver, lateDay, ready2coll, waits []float64
	readyOnTime := 0
	for i := range r.Orders {
		o := &r.Orders[i]
		if o.ByItems {
			f.ByItems++
		}
		if o.Collect {
			f.Collect.Orders++
		}
		if o.Rejected != "" {
			f.Rejected++
			f.RejectedByReason[o.Rejected]++
			for _, why := range o.Reasons {
				f.ReasonsMet[why]++
			}
			continue
		}
		f.Accepted++
		waits = append(waits, minutes(o.PickWait))
		if o.Missed {
			f.Missed++
		}
		if o.LaterSlot > 0 {
			f.LaterSlot++
		}
		if o.Collect {
			f.Collect.Accepted++
			if !o.Ready.After(o.DeliverBy) {
				readyOnTime++
			}
			if !o.Collected.IsZero() {
				f.Collect.Collected++
				ready2coll = append(ready2coll, minutes(o.Collected.Sub(o.Ready)))
			}
			continue
		}
		p, late := &f.Daytime, &lateDay
		if o.Overnight {
			p, late = &f.Overnight, &lateOver
		}
		p.Orders++
		if o.Status == dispatch.StatusDelivered {
			p.Delivered++
			l := max(0, minutes(o.Delivered.Sub(o.DeliverBy)))
			*late = append(*late, l)
			if l == 0 {
				p.OnTime++
			}
		}
	}
	if f.Orders > 0 {
		f.RejectedShare = float64(f.Rejected) / float64(f.Orders)
	}
	for _, p := range []struct {
		p    *Promised
		late []float64
	}{{&f.Overnight, lateOver}, {&f.Daytime, lateDay}} {
		if p.p.Orders > 0 {
			p.p.OnTimeShare = float64(p.p.OnTime) / float64(p.p.Orders)
		}
		p.p.Lateness = kpi.Summarize(p.late)
	}
	if f.Collect.Accepted > 0 {
		f.Collect.ReadyOnTimeShare = float64(readyOnTime) / float64(f.Collect.Accepted)
	}
	f.Collect.ReadyToCollected = kpi.Summarize(ready2coll)

	var peaks []float64
	var queues []StoreQueue
	for _, st := range fr.Stores {
		n := st.Orders + st.Collect
		if n == 0 {
			continue
		}
		peaks = append(peaks, float64(st.PeakQueue))
		q := StoreQueue{Store: st.ID, Kind: st.Kind, Pickers: st.Pickers, Orders: n, PeakQueue: st.PeakQueue,
			PeakAt: st.PeakAt.In(loc), PickWaitMean: minutes(st.PickWait) / float64(n), PickWaitMax: minutes(st.MaxPickWait)}
		queues = append(queues, q)
	}
	f.PickWait, f.PeakQueue = kpi.Summarize(waits), kpi.Summarize(peaks)
	slices.SortStableFunc(queues, func(a, b StoreQueue) int {
		return cmp.Or(cmp.Compare(b.PeakQueue, a.PeakQueue), cmp.Compare(b.PickWaitMean, a.PickWaitMean))
	})
	f.Busiest = queues[:min(len(queues), 10)]

	for _, s := range r.Samples {
		f.Backlog = append(f.Backlog, BacklogPoint{At: s.At.In(loc), Backlog: s.Backlog(), Overnight: s.Overnight,
			Overdue: s.Overdue, Preparing: s.Preparing})
	}
	if !fr.Opening.IsZero() {
		f.Opening = opening(r)
	}
	return f
}

// opening computes the figures of the first opening.
func opening(r *Result) *OpeningSummary {
	fr := r.Fulfil
	loc := r.Start.Location()
	op := &OpeningSummary{At: fr.Opening.In(loc)}
	after := func(t time.Time) float64 { return minutes(t.Sub(fr.Opening)) }

	for i := range r.Orders {
		switch o := &r.Orders[i]; {
		case !o.Overnight || o.Rejected != "":
		case o.Collect:
			op.OvernightCollect++
		default:
			op.OvernightOrders++
		}
	}
	op.OvernightLeft, op.OvernightCollectLeft = fr.OvernightLeft[0], fr.OvernightLeft[1]
	if t := fr.OvernightCleared[0]; !t.IsZero() {
		op.OvernightCleared, op.OvernightClearedMin = t.In(loc), after(t)
	}
	if t := fr.OvernightCleared[1]; !t.IsZero() {
		op.OvernightCollectCleared, op.OvernightCollectClearedMin = t.In(loc), after(t)
	}

	// The normal level: the median backlog over the last hour of the order window.
	var tail []float64
	for _, s := range r.Samples {
		if !s.At.Before(fr.End.Add(-time.Hour)) && !s.At.After(fr.End) {
			tail = append(tail, float64(s.Backlog()-s.Overdue))
		}
	}
	op.Normal = kpi.Summarize(tail).P50
	peak := -1
	for i, s := range r.Samples {
		if s.At.Before(fr.Opening) {
			continue
		}
		if peak < 0 {
			op.BacklogAtOpening = s.Backlog()
		}
		if peak < 0 || s.Backlog() > r.Samples[peak].Backlog() {
			peak = i
		}
	}
	if peak < 0 {
		return op
	}
	op.Peak, op.PeakAt = r.Samples[peak].Backlog(), r.Samples[peak].At.In(loc)
	for _, s := range r.Samples[peak:] {
		if float64(s.Backlog()) <= math.Floor(normalMargin*op.Normal) {
			op.BackToNormal, op.BackToNormalMin = s.At.In(loc), after(s.At)
			break
		}
	}
	return op
}
