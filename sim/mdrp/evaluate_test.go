package mdrp

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/o2o-dispatch/dispatchd/sim/kpi"
)

// The fixture's figures, worked out by hand from its timeline (see fixture):
//
//	order  placement ready pickup dropoff  click-to-door  overage(target 25)  ready-to-door  ready-to-pickup
//	o1     5         15    18     27       22             0                   12             3
//	o2     6         18    18     34       28             3                   16             0
//	o3     20        30    32     46       26             1                   16             2
//	o5     21        28    32     50       29             4                   22             4
//	o4     50        60    62     71       21             0                   11             2
//
//	courier shift orders bundles driving          busy              utilisation guaranteed earnings paid
//	c1      120   3      2       3+5+3+8+5 = 24   24+2·4+3·4 = 44   44/120      30         30       30
//	c2      60    2      1       5+10+0 = 15      15+4+2·4 = 27     27/60       15         20       20
//	c3      60    0      0       0                0                 0           15         0        15
func TestEvaluateFixture(t *testing.T) {
	in, s := fixture()
	m := Evaluate(in, s)
	if m.Instance != "tiny" || m.Orders != 6 || m.OrdersDelivered != 5 || m.Couriers != 3 || m.Bundles != 3 {
		t.Fatalf("counts: %+v", m)
	}
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	near("delivered share", m.DeliveredShare, 5.0/6)
	near("total compensation", m.TotalCompensation, 65)
	near("guaranteed share", m.GuaranteedShare, 1.0/3) // c3 only: c1's 30 = 30 is not below the minimum

	for _, c := range []struct {
		name string
		got  kpi.Stats
		xs   []float64
	}{
		{"click-to-door", m.ClickToDoor, []float64{22, 28, 26, 29, 21}},
		{"overage", m.ClickToDoorOverage, []float64{0, 3, 1, 4, 0}},
		{"ready-to-door", m.ReadyToDoor, []float64{12, 16, 16, 22, 11}},
		{"ready-to-pickup", m.ReadyToPickup, []float64{3, 0, 2, 4, 2}},
		{"orders per hour", m.OrdersPerHour, []float64{1.5, 2, 0}},
		{"bundles per hour", m.BundlesPerHour, []float64{1, 1, 0}},
		{"utilisation", m.Utilization, []float64{44.0 / 120, 27.0 / 60, 0}},
		{"guaranteed earnings", m.GuaranteedEarnings, []float64{30, 15, 15}},
		{"delivery earnings", m.DeliveryEarnings, []float64{30, 20, 0}},
		{"compensation", m.Compensation, []float64{30, 20, 15}},
		{"orders per bundle", m.OrdersPerBundle, []float64{2, 2, 1}},
	} {
		if want := kpi.Summarize(c.xs); c.got != want {
			t.Errorf("%s: %+v, want %+v", c.name, c.got, want)
		}
	}
	// Spot checks that do not go through kpi.Summarize.
	near("click-to-door mean", m.ClickToDoor.Mean, 25.2)
	near("click-to-door max", m.ClickToDoor.Max, 29)
	near("utilisation max", m.Utilization.Max, 0.45)
	near("orders per bundle mean", m.OrdersPerBundle.Mean, 5.0/3)
}

func TestEvaluateEmptySolution(t *testing.T) {
	in, _ := fixture()
	m := Evaluate(in, &Solution{})
	if m.OrdersDelivered != 0 || m.ClickToDoor.N != 0 || m.Utilization.N != 3 || m.GuaranteedShare != 1 {
		t.Fatalf("%+v", m)
	}
	if m.TotalCompensation != 30+15+15 {
		t.Fatalf("idle couriers are paid the guaranteed minimum: %v", m.TotalCompensation)
	}
}

func TestMetricsJSONIsSnakeCase(t *testing.T) {
	in, s := fixture()
	b, err := json.Marshal(Evaluate(in, s))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"orders_delivered"`, `"click_to_door_overage"`, `"ready_to_pickup"`,
		`"orders_per_bundle"`, `"total_compensation"`, `"guaranteed_min_share"`, `"p90"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s: %s", key, b)
		}
	}
}
