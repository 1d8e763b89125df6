package metrics

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"
)

// ClusterState is a cluster node's state, read at scrape time (dispatch/cluster/node: Node.Owned and Node.Lag).
type ClusterState struct {
	// Owned is how many regions the node serves.
	Owned int
	// Lag is, by region the node follows as a standby, how many journal records its replica is behind the owner.
	Lag map[string]uint64
}

// Cluster holds a cluster node's metrics (dispatchd --cluster), registered beside the others by NewCluster. It is
// the node's Observer: its methods are safe for concurrent use and never block.
//
//	dispatchd_cluster_regions_owned                          gauge    regions this node serves
//	dispatchd_cluster_follower_lag_records{region}           gauge    records a standby is behind the owner
//	dispatchd_cluster_lease_acquisitions_total{region}       counter  leases this node took
//	dispatchd_cluster_lease_losses_total{region,reason}      counter  expired, taken or released
//	dispatchd_cluster_lease_renewals_total{result}           counter  ok, failed
//	dispatchd_cluster_forwarded_requests_total{outcome}      counter  ok, error, no_owner, hop_limit
type Cluster struct {
	acquired  *prometheus.CounterVec
	lost      *prometheus.CounterVec
	renewals  *prometheus.CounterVec
	forwarded *prometheus.CounterVec
}

// NewCluster registers a node's metrics on m's registry; state is called once per scrape.
func NewCluster(m *Metrics, regions []string, state func() ClusterState) *Cluster {
	c := &Cluster{
		acquired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dispatchd_cluster_lease_acquisitions_total",
			Help: "Region leases this node took, by region.",
		}, []string{"region"}),
		lost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dispatchd_cluster_lease_losses_total",
			Help: "Region leases this node lost or gave up, by region and reason: expired, taken or released.",
		}, []string{"region", "reason"}),
		renewals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dispatchd_cluster_lease_renewals_total",
			Help: "Renewals of this node's region leases, by result: ok or failed.",
		}, []string{"result"}),
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dispatchd_cluster_forwarded_requests_total",
			Help: "Requests for a region owned elsewhere, by outcome: ok (forwarded and answered), error (the owner could not be reached), no_owner or hop_limit (answered 503).",
		}, []string{"outcome"}),
	}
	for _, r := range regions {
		c.acquired.WithLabelValues(r)
		for _, reason := range []string{"expired", "taken", "released"} {
			c.lost.WithLabelValues(r, reason)
		}
	}
	for _, r := range []string{"ok", "failed"} {
		c.renewals.WithLabelValues(r)
	}
	for _, o := range []string{"ok", "error", "no_owner", "hop_limit"} {
		c.forwarded.WithLabelValues(o)
	}
	m.reg.MustRegister(c.acquired, c.lost, c.renewals, c.forwarded, &clusterCollector{state: state,
		owned: prometheus.NewDesc("dispatchd_cluster_regions_owned", "Regions this node serves as their owner.", nil, nil),
		lag: prometheus.NewDesc("dispatchd_cluster_follower_lag_records",
			"Journal records this node's standby of a region is behind the region's owner, as the owner last reported.", []string{"region"}, nil),
	})
	return c
}

// LeaseAcquired counts a lease taken.
func (c *Cluster) LeaseAcquired(region string) { c.acquired.WithLabelValues(region).Inc() }

// LeaseLost counts a lease lost or given up.
func (c *Cluster) LeaseLost(region, reason string) { c.lost.WithLabelValues(region, reason).Inc() }

// LeaseRenewal counts a renewal.
func (c *Cluster) LeaseRenewal(_ string, ok bool) {
	if ok {
		c.renewals.WithLabelValues("ok").Inc()
	} else {
		c.renewals.WithLabelValues("failed").Inc()
	}
}

// Forwarded counts a request for a region owned elsewhere.
func (c *Cluster) Forwarded(outcome string) { c.forwarded.WithLabelValues(outcome).Inc() }

type clusterCollector struct {
	state      func() ClusterState
	owned, lag *prometheus.Desc
}

func (c *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.owned
	ch <- c.lag
}

func (c *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.state()
	gauge(ch, c.owned, float64(s.Owned))
	regions := make([]string, 0, len(s.Lag))
	for r := range s.Lag {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	for _, r := range regions {
		gauge(ch, c.lag, float64(s.Lag[r]), r)
	}
}
