package synth

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func validSpec(t *testing.T) *Spec {
	t.Helper()
	s, err := Parse(strings.NewReader(validJSON), "valid.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fieldErrors returns the *Error values that err holds (one, or several joined).
func fieldErrors(err error) []*Error {
	var out []*Error
	var e *Error
	if errors.As(err, &e) {
		out = append(out, e)
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		out = out[:0]
		for _, sub := range j.Unwrap() {
			out = append(out, fieldErrors(sub)...)
		}
	}
	return out
}

func ptr(x float64) *float64 { return &x }

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(s *Spec)
		field  string // the field an error must name; "" when the spec stays valid
	}{
		{"valid", func(*Spec) {}, ""},
		{"bad date", func(s *Spec) { s.Date = "2026-13-01" }, "date"},
		{"latitude out of range", func(s *Spec) { s.City.Lat = 91 }, "city.lat"},
		{"NaN longitude", func(s *Spec) { s.City.Lon = math.NaN() }, "city.lon"},
		{"zero radius", func(s *Spec) { s.City.RadiusKm = 0 }, "city.radius_km"},
		{"missing day start", func(s *Spec) { s.Day.Start = "" }, "day.start"},
		{"bad clock", func(s *Spec) { s.Day.Start = "25:00" }, "day.start"},
		{"clock without two-digit minutes", func(s *Spec) { s.Day.Start = "7:5" }, "day.start"},
		{"day longer than 24 h", func(s *Spec) { s.Day.Hours = 25 }, "day.hours"},
		{"day past midnight", func(s *Spec) { s.Day.Hours = 15 }, ""},
		{"unknown time zone", func(s *Spec) { s.Timezone = "Mars/Olympus" }, "timezone"},
		{"negative hours", func(s *Spec) { s.Day.Hours = -1 }, "day.hours"},
		{"negative districts", func(s *Spec) { s.Stores.Districts = -1 }, "stores.districts"},
		{"district larger than city", func(s *Spec) { s.Stores.DistrictRadiusKm = 4 }, "stores.district_radius_km"},
		{"spread share above 1", func(s *Spec) { s.Stores.SpreadShare = 1.5 }, "stores.spread_share"},
		{"no kinds", func(s *Spec) { s.Stores.Kinds = nil }, "stores.kinds"},
		{"negative store count", func(s *Spec) { s.Stores.Kinds[0].Count = -3 }, "stores.kinds[0].count"},
		{"no stores at all", func(s *Spec) {
			s.Stores.Kinds[0].Count, s.Stores.Kinds[1].Count = 0, 0
			s.Stores.Kinds[0].DemandShare, s.Stores.Kinds[1].DemandShare = 0, 0
		}, "stores.kinds"},
		{"demand for a kind without stores", func(s *Spec) { s.Stores.Kinds[1].Count = 0 }, "stores.kinds[1].count"},
		{"negative share", func(s *Spec) { s.Stores.Kinds[1].DemandShare = -0.2 }, "stores.kinds[1].demand_share"},
		{"shares short of 1", func(s *Spec) { s.Stores.Kinds[1].DemandShare = 0.1 }, "stores.kinds"},
		{"shares over 1", func(s *Spec) { s.Stores.Kinds[1].DemandShare = 0.4 }, "stores.kinds"},
		{"shares within the tolerance", func(s *Spec) { s.Stores.Kinds[1].DemandShare = 0.205 }, ""},
		{"duplicate kind", func(s *Spec) { s.Stores.Kinds[1].Kind = "restaurant" }, "stores.kinds[1].kind"},
		{"clashing default prefixes", func(s *Spec) { s.Stores.Kinds[1].Kind = "rice shop" }, "stores.kinds[1].prefix"},
		{"prefix with a digit", func(s *Spec) { s.Stores.Kinds[0].Prefix = "r1" }, "stores.kinds[0].prefix"},
		{"explicit prefixes resolve a clash", func(s *Spec) {
			s.Stores.Kinds[1].Kind, s.Stores.Kinds[1].Prefix = "rice shop", "rs"
		}, ""},
		{"popularity sigma too large", func(s *Spec) { s.Stores.Kinds[0].PopularitySigma = 5 }, "stores.kinds[0].popularity_sigma"},
		{"zero median prep", func(s *Spec) { s.Stores.Kinds[0].Prep.MedianMin = 0 }, "stores.kinds[0].prep.median_min"},
		{"p90 below median", func(s *Spec) { s.Stores.Kinds[0].Prep.P90Min = 10 }, "stores.kinds[0].prep.p90_min"},
		{"min above median", func(s *Spec) { s.Stores.Kinds[0].Prep.MinMin = 15 }, "stores.kinds[0].prep.min_min"},
		{"max below median", func(s *Spec) { s.Stores.Kinds[0].Prep.MaxMin = 10 }, "stores.kinds[0].prep.max_min"},
		{"prep beyond the promise", func(s *Spec) { s.Stores.Kinds[0].Prep.MaxMin = 40 }, "stores.kinds[0].prep.max_min"},
		{"median prep beyond the promise", func(s *Spec) {
			s.Stores.Kinds[0].Prep = Prep{MedianMin: 40, P90Min: 50}
		}, "stores.kinds[0].prep.median_min"},
		{"default max prep is capped by the promise", func(s *Spec) {
			s.Stores.Kinds[0].Prep = Prep{MedianMin: 20, P90Min: 30}
		}, ""},
		{"size shares", func(s *Spec) { s.Stores.Kinds[1].Sizes[1].Share = 0.5 }, "stores.kinds[1].sizes"},
		{"zero units", func(s *Spec) { s.Stores.Kinds[1].Sizes[0].Units = 0 }, "stores.kinds[1].sizes[0].units"},
		{"size above every capacity", func(s *Spec) { s.Stores.Kinds[1].Sizes[1].Units = 4 }, "stores.kinds[1].sizes[1].units"},
		{"unknown start_at", func(s *Spec) { s.Couriers.StartAt = "depot" }, "couriers.start_at"},
		{"start_at district without districts", func(s *Spec) {
			s.Couriers.StartAt, s.Stores.Districts = "district", 0
		}, "couriers.start_at"},
		{"negative courier count", func(s *Spec) { s.Couriers.Shifts[1].Count = -2 }, "couriers.shifts[1].count"},
		{"no couriers", func(s *Spec) { s.Couriers.Shifts = nil }, "couriers.shifts"},
		{"shift ends before it starts", func(s *Spec) { s.Couriers.Shifts[1].End = "15:00" }, "couriers.shifts[1].end"},
		{"shift starts before the day", func(s *Spec) { s.Couriers.Shifts[0].Start = "09:00" }, "couriers.shifts[0].start"},
		{"shift starts after the day", func(s *Spec) {
			s.Couriers.Shifts[1].Start, s.Couriers.Shifts[1].End = "20:00", "22:00"
		}, "couriers.shifts[1].start"},
		{"shift may end after the day", func(s *Spec) { s.Couriers.Shifts[1].End = "24:00" }, ""},
		{"unknown vehicle", func(s *Spec) { s.Couriers.Shifts[0].Vehicle = "rocket" }, "couriers.shifts[0].vehicle"},
		{"missing vehicle", func(s *Spec) { s.Couriers.Shifts[0].Vehicle = "" }, "couriers.shifts[0].vehicle"},
		{"zero capacity", func(s *Spec) { s.Couriers.Shifts[0].Capacity = 0 }, "couriers.shifts[0].capacity"},
		{"zero orders", func(s *Spec) { s.Demand.Orders = 0 }, "demand.orders"},
		{"negative base", func(s *Spec) { s.Demand.Base = ptr(-1) }, "demand.base"},
		{"zero width", func(s *Spec) { s.Demand.Peaks[1].WidthMin = 0 }, "demand.peaks[1].width_min"},
		{"negative weight", func(s *Spec) { s.Demand.Peaks[0].Weight = -1 }, "demand.peaks[0].weight"},
		{"bad peak centre", func(s *Spec) { s.Demand.Peaks[0].Centre = "noon" }, "demand.peaks[0].centre"},
		{"peak outside the day is fine", func(s *Spec) { s.Demand.Peaks[0].Centre = "08:00" }, ""},
		{"zero rate", func(s *Spec) { s.Demand.Base, s.Demand.Peaks = ptr(0), nil }, "demand"},
		{"only peaks", func(s *Spec) { s.Demand.Base = ptr(0) }, ""},
		{"surge ends before it starts", func(s *Spec) { s.Demand.Surges[0].End = "18:30" }, "demand.surges[0].end"},
		{"surge after the day", func(s *Spec) { s.Demand.Surges[0].End = "21:00" }, "demand.surges[0].end"},
		{"zero multiplier", func(s *Spec) { s.Demand.Surges[0].Multiplier = 0 }, "demand.surges[0].multiplier"},
		{"zero mean drop-off", func(s *Spec) { s.Demand.Dropoff.MeanKm = 0 }, "demand.dropoff.mean_km"},
		{"negative max drop-off", func(s *Spec) { s.Demand.Dropoff.MaxKm = -1 }, "demand.dropoff.max_km"},
		{"zero promise", func(s *Spec) { s.Promise.TargetMin = 0 }, "promise.target_min"},
		{"max click-to-door below the promise", func(s *Spec) { s.Promise.MaxClickToDoorMin = 30 }, "promise.max_click_to_door_min"},
		{"negative tick", func(s *Spec) { s.Dispatch.TickSec = -30 }, "dispatch.tick_sec"},
		{"negative service", func(s *Spec) { s.Dispatch.PickupServiceMin = ptr(-1) }, "dispatch.pickup_service_min"},
		{"zero service is allowed", func(s *Spec) { s.Dispatch.DropoffServiceMin = ptr(0) }, ""},
		{"negative pay", func(s *Spec) { s.Pay.PerHour = -10 }, "pay.per_hour"},

		// The store side.
		{"fulfilment", withFulfilment, ""},
		{"bad span", func(s *Spec) {
			withFulfilment(s)
			s.Stores.Kinds[1].Hours = map[string][]string{"daily": {"8-22"}}
		}, "stores.kinds[1].hours.daily[0]"},
		{"bad span on a listed day", func(s *Spec) {
			withFulfilment(s)
			s.Stores.Kinds[1].Hours["sat"] = []string{"25:00-26:00"}
		}, "stores.kinds[1].hours.sat[0]"},
		{"not a day", func(s *Spec) {
			withFulfilment(s)
			s.Stores.Kinds[1].Hours["monday"] = []string{"08:00-20:00"}
		}, "stores.kinds[1].hours.monday"},
		{"unknown zone of a kind", func(s *Spec) { withFulfilment(s); s.Stores.Kinds[1].Timezone = "Nowhere/Else" }, "stores.kinds[1].timezone"},
		{"negative pickers", func(s *Spec) { withFulfilment(s); s.Stores.Kinds[1].Pickers = -1 }, "stores.kinds[1].pickers"},
		{"stock without a catalogue", func(s *Spec) { withFulfilment(s); s.Catalogue = nil }, "stores.kinds[1].stock"},
		{"stock p90 below median", func(s *Spec) { withFulfilment(s); s.Stores.Kinds[1].Stock.P90Units = 2 }, "stores.kinds[1].stock.p90_units"},
		{"assortment above 1", func(s *Spec) { withFulfilment(s); s.Stores.Kinds[1].Stock.Assortment = 1.5 }, "stores.kinds[1].stock.assortment"},
		{"follow_popularity above 1", func(s *Spec) { withFulfilment(s); s.Stores.Kinds[1].Stock.FollowPopularity = 2 }, "stores.kinds[1].stock.follow_popularity"},
		{"restock without stock", func(s *Spec) { withFulfilment(s); s.Stores.Kinds[0].Restock = []string{"12:00"} }, "stores.kinds[0].restock"},
		{"restock after the day", func(s *Spec) { withFulfilment(s); s.Stores.Kinds[1].Restock = []string{"21:00"} }, "stores.kinds[1].restock[0]"},
		{"no products", func(s *Spec) { withFulfilment(s); s.Catalogue.SKUs = 0 }, "catalogue.skus"},
		{"quantities that could merge past the limit", func(s *Spec) { withFulfilment(s); s.Catalogue.QtyMax = 501 }, "catalogue.qty_max"},
		{"lines_mean below 1", func(s *Spec) { withFulfilment(s); s.Catalogue.LinesMean = 0.5 }, "catalogue.lines_mean"},
		{"orders by items without stock", func(s *Spec) { withFulfilment(s); s.Stores.Kinds[1].Stock, s.Stores.Kinds[1].Restock = nil, nil }, "demand.by_items_share"},
		{"collect share above 1", func(s *Spec) { withFulfilment(s); s.Demand.Collect.Share = 1.2 }, "demand.collect.share"},
		{"collect delay p90 below median", func(s *Spec) { withFulfilment(s); s.Demand.Collect.DelayP90Min = 5 }, "demand.collect.delay_p90_min"},
		{"slots without hours", func(s *Spec) { withFulfilment(s); s.Stores.Kinds[1].Hours = nil }, "promise.slots"},
		{"zero slot", func(s *Spec) { withFulfilment(s); s.Promise.Slots.SlotMin = 0 }, "promise.slots.slot_min"},
		{"too many slots", func(s *Spec) { withFulfilment(s); s.Promise.Slots.Count = 97 }, "promise.slots.count"},
		{"negative search radius", func(s *Spec) { withFulfilment(s); s.Stores.SearchRadiusKm = -1 }, "stores.search_radius_km"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec(t)
			tt.change(s)
			err := s.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one about %s", tt.field)
			}
			var fields []string
			for _, e := range fieldErrors(err) {
				if e.Field == tt.field {
					return
				}
				fields = append(fields, e.Field)
			}
			t.Errorf("error %q names %v, want %s", err, fields, tt.field)
		})
	}
}

func TestValidateMessage(t *testing.T) {
	s := validSpec(t)
	s.Demand.Peaks[1].WidthMin = 0
	s.Couriers.Shifts[0].Count = -1
	err := s.Validate()
	want := "demand.peaks[1].width_min must be > 0, got 0"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want it to hold %q", err, want)
	}
	if n := len(fieldErrors(err)); n != 2 {
		t.Errorf("%d errors, want 2 (every problem at once): %v", n, err)
	}
	if _, err := Generate(s, 1); err == nil {
		t.Error("Generate accepted an invalid spec")
	}
}

// withFulfilment gives the valid spec a store side: a catalogue, hours, pickers, stock and restocks for the
// convenience stores, orders by items, collections and slots.
func withFulfilment(s *Spec) {
	s.Catalogue = &Catalogue{SKUs: 60, PopularitySkew: 1, LinesMean: 2.5, QtyMean: 1.2}
	k := &s.Stores.Kinds[1]
	k.Hours = map[string][]string{"daily": {"11:00-19:00"}, "sun": {"12:00-18:00"}}
	k.Pickers = 2
	k.Stock = &Stock{Assortment: 0.8, MedianUnits: 6, P90Units: 12, FollowPopularity: 0.5}
	k.Restock = []string{"15:00"}
	s.Demand.ByItemsShare = 0.5
	s.Demand.Collect = &Collect{Share: 0.2, DelayMedianMin: 10, DelayP90Min: 30}
	s.Promise.Slots = &Slots{SlotMin: 30, Count: 3}
}
