package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestClusterMetrics(t *testing.T) {
	m := New(sampleFleet)
	c := NewCluster(m, []string{"north", "south"}, func() ClusterState {
		return ClusterState{Owned: 1, Lag: map[string]uint64{"south": 42}}
	})
	c.LeaseAcquired("north")
	c.LeaseLost("south", "expired")
	c.LeaseRenewal("north", true)
	c.LeaseRenewal("north", true)
	c.LeaseRenewal("north", false)
	c.Forwarded("ok")
	c.Forwarded("no_owner")
	want := `
# HELP dispatchd_cluster_regions_owned Regions this node serves as their owner.
# TYPE dispatchd_cluster_regions_owned gauge
dispatchd_cluster_regions_owned 1
# HELP dispatchd_cluster_follower_lag_records Journal records this node's standby of a region is behind the region's owner, as the owner last reported.
# TYPE dispatchd_cluster_follower_lag_records gauge
dispatchd_cluster_follower_lag_records{region="south"} 42
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"dispatchd_cluster_regions_owned", "dispatchd_cluster_follower_lag_records"); err != nil {
		t.Error(err)
	}
	for _, tc := range []struct {
		got  float64
		want float64
		what string
	}{
		{testutil.ToFloat64(c.acquired.WithLabelValues("north")), 1, "acquisitions north"},
		{testutil.ToFloat64(c.acquired.WithLabelValues("south")), 0, "acquisitions south"},
		{testutil.ToFloat64(c.lost.WithLabelValues("south", "expired")), 1, "losses south expired"},
		{testutil.ToFloat64(c.renewals.WithLabelValues("ok")), 2, "renewals ok"},
		{testutil.ToFloat64(c.renewals.WithLabelValues("failed")), 1, "renewals failed"},
		{testutil.ToFloat64(c.forwarded.WithLabelValues("no_owner")), 1, "forwarded no_owner"},
		{testutil.ToFloat64(c.forwarded.WithLabelValues("hop_limit")), 0, "forwarded hop_limit"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %v, want %v", tc.what, tc.got, tc.want)
		}
	}
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "dispatchd_cluster") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}
