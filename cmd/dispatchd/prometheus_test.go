package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRulesAndDashboardOnALiveDaemon runs a real Prometheus (the binary DISPATCHD_PROMETHEUS names; .ci/alerts-check
// sets it when Debian's prometheus package is installed) on the loopback interface with metrics/prometheus.yml and
// its rule files, scraping a daemon after traffic that touches every metric. Every recording and alerting rule must
// evaluate without error on the daemon's real series (promtool's unit tests feed series written by hand, which
// cannot show a label set that breaks a vector match), and every query of the Grafana dashboard must run and
// return data, except those that select HTTP errors, of which the traffic makes none.
func TestRulesAndDashboardOnALiveDaemon(t *testing.T) {
	prometheus := os.Getenv("DISPATCHD_PROMETHEUS")
	if prometheus == "" {
		t.Skip("DISPATCHD_PROMETHEUS is not set (make alerts-check sets it where the prometheus binary is installed)")
	}
	dir := t.TempDir()
	c, _ := startMain(t, filepath.Join(dir, "data"), "--dispatch-interval", "200ms", "--metrics-auth")
	touchEveryMetric(t, c)
	// One order left open keeps the rounds going.
	var key struct{ Key string }
	c.must(201, "POST", "/v1/api-keys", testAdminToken, map[string]string{"name": "open"}, &key)
	c.must(201, "POST", "/v1/orders", key.Key, map[string]any{"store_id": "s1", "dropoff": map[string]float64{"lat": 31.25, "lon": 121.49}}, nil)

	promURL := startPrometheus(t, prometheus, dir, strings.TrimPrefix(c.base, "http://"))

	// Enough scrapes (one a second) for rates over 10 s, and every rule evaluated since.
	waitFor(t, 60*time.Second, "eight scrapes of the daemon", func() (bool, string) {
		r, err := promQuery(promURL, `count_over_time(up{job="dispatchd"}[1m]) >= 8 and up{job="dispatchd"} == 1`)
		return err == nil && len(r) == 1, fmt.Sprint(r, err)
	})
	var rules struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name           string    `json:"name"`
					Health         string    `json:"health"`
					LastError      string    `json:"lastError"`
					LastEvaluation time.Time `json:"lastEvaluation"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	since := time.Now()
	waitFor(t, 30*time.Second, "every rule evaluated", func() (bool, string) {
		if err := promGet(promURL+"/api/v1/rules", &rules); err != nil {
			return false, err.Error()
		}
		n := 0
		for _, g := range rules.Data.Groups {
			for _, r := range g.Rules {
				if r.LastEvaluation.Before(since) {
					return false, r.Name + " not evaluated yet"
				}
				n++
			}
		}
		return n > 0, fmt.Sprintf("%d rules", n)
	})
	n := 0
	for _, g := range rules.Data.Groups {
		for _, r := range g.Rules {
			n++
			if r.Health != "ok" || r.LastError != "" {
				t.Errorf("rule %s: health %q, error %q", r.Name, r.Health, r.LastError)
			}
		}
	}
	t.Logf("%d rules evaluated on the live daemon's series", n)

	queries := dashboardQueries(t)
	var empty []string
	waitFor(t, 30*time.Second, "data for every dashboard query", func() (bool, string) {
		empty = empty[:0]
		for _, q := range queries {
			r, err := promQuery(promURL, q)
			if err != nil {
				t.Fatalf("dashboard query %s: %v", q, err)
			}
			if len(r) == 0 && !strings.Contains(q, `code=~"5`) {
				empty = append(empty, q)
			}
		}
		return len(empty) == 0, strings.Join(empty, "\n")
	})
	t.Logf("%d dashboard queries run on the live daemon's series", len(queries))
}

// startPrometheus starts Prometheus on a free loopback port with copies of metrics/prometheus.yml (scraping
// target every second, with the admin token from a file in dir) and its rule files, and stops it when the test
// ends. It returns Prometheus' base URL once it is ready.
func startPrometheus(t *testing.T, binary, dir, target string) string {
	t.Helper()
	cfg, err := os.ReadFile("../../metrics/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "admin.token")
	if err := os.WriteFile(tokenFile, []byte(testAdminToken), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := string(cfg)
	for _, r := range [][2]string{
		{"scrape_interval: 15s", "scrape_interval: 1s"},
		{"scrape_timeout: 10s", "scrape_timeout: 1s"},
		{"evaluation_interval: 15s", "evaluation_interval: 1s"},
		{"credentials_file: /etc/prometheus/dispatchd-admin.token", "credentials_file: " + tokenFile},
		{`targets: ["localhost:8080"]`, fmt.Sprintf("targets: [%q]", target)},
	} {
		if !strings.Contains(conf, r[0]) {
			t.Fatalf("metrics/prometheus.yml no longer has %q, which this test replaces", r[0])
		}
		conf = strings.Replace(conf, r[0], r[1], 1)
	}
	for name, body := range map[string]string{"prometheus.yml": conf} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"rules.yml", "alerts.yml"} {
		b, err := os.ReadFile(filepath.Join("../../metrics", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var log bytes.Buffer
	cmd := exec.Command(binary, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("prometheus' log:\n%s", log.String())
		}
	})
	base := "http://" + addr
	waitFor(t, 30*time.Second, "prometheus ready", func() (bool, string) {
		select {
		case <-exited:
			t.Fatalf("prometheus exited:\n%s", log.String())
		default:
		}
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	return base
}

// dashboardQueries returns the PromQL of every query of metrics/grafana/dispatchd.json, with its Grafana
// variables filled in for this test's Prometheus: the job, every instance, a rate window of ten scrapes.
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../metrics/grafana/dispatchd.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	fill := strings.NewReplacer("$__rate_interval", "10s", "$job", "dispatchd", "$instance", ".+")
	var out []string
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			out = append(out, fill.Replace(q.Expr))
		}
	}
	if len(out) == 0 {
		t.Fatal("no query in the dashboard")
	}
	return out
}

// promQuery runs an instant query and returns its result vector.
func promQuery(base, query string) ([]json.RawMessage, error) {
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string            `json:"resultType"`
			Result     []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := promGet(base+"/api/v1/query?query="+url.QueryEscape(query), &r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s", r.Status, r.Error)
	}
	if r.Data.ResultType != "vector" {
		return nil, fmt.Errorf("result type %s, want vector", r.Data.ResultType)
	}
	return r.Data.Result, nil
}

func promGet(u string, out any) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

// waitFor polls cond every 200 ms until it holds, failing the test with cond's last word after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last: %s", what, timeout, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
