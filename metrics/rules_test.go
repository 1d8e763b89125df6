package metrics

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// The Prometheus and Grafana files beside this package (rules.yml, alerts.yml, alerts_test.yml,
// grafana/dispatchd.json) are checked here against the code: every metric their expressions use must be one the
// daemon exports (or one the rules record, or one Prometheus makes itself), so that renaming a metric fails this
// test instead of silently emptying a panel or disarming an alert. promtool checks the rules' syntax and behaviour
// (make alerts-check); this test needs no promtool.

// prometheusOwn are the series Prometheus itself makes: up for every target, ALERTS for every pending or firing
// alert.
var prometheusOwn = []string{"up", "ALERTS"}

// exportedNames returns the names of every series a daemon's registry serves, built as cmd/dispatchd builds it
// (New, the build info and the data directory collector), after one of each observation so that the labelled
// series exist. A histogram or summary named h serves h_bucket (or h itself, for a summary's quantiles), h_sum
// and h_count.
func exportedNames(t *testing.T) map[string]bool {
	t.Helper()
	fleet := sampleFleet()
	fleet.WebhookBacklog = map[string]int{"w1": 3}
	fleet.WebhookOldestPending = map[string]time.Time{"w1": time.Now().Add(-time.Minute)}
	m := New(func() Fleet { return fleet })
	m.Registry().MustRegister(NewBuildInfo("v0.0.0-test", "0123abc", "go1.26"), NewDataDirCollector(t.TempDir()))
	m.OrderPlaced()
	m.OrderDelivered(20*time.Minute, true)
	m.OrderFinished("cancelled")
	m.DispatchRound(time.Millisecond, 3, 2)
	m.JournalSync(time.Millisecond, 4)
	m.Rejected("queue_full")
	m.WebhookDelivery("ok")
	m.InstrumentHTTP("POST /v1/orders", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/v1/orders", nil))

	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		n := f.GetName()
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			names[n+"_bucket"], names[n+"_sum"], names[n+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			names[n], names[n+"_sum"], names[n+"_count"] = true, true, true
		default:
			names[n] = true
		}
	}
	// The fleet, the data directory and the build info are all there: the check below is only as good as this.
	for _, n := range []string{"dispatchd_orders", "dispatchd_webhook_oldest_pending_age_seconds", "dispatchd_ready",
		"dispatchd_data_dir_avail_bytes", "dispatchd_build_info", "dispatchd_http_requests_total",
		"dispatchd_journal_sync_duration_seconds_bucket", "go_goroutines", "process_cpu_seconds_total"} {
		if !names[n] {
			t.Fatalf("the registry lacks %s", n)
		}
	}
	return names
}

// metricNames parses a PromQL expression and returns the metric names its selectors use.
func metricNames(expr string) ([]string, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var out []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			name := vs.Name
			for _, m := range vs.LabelMatchers {
				if m.Name == "__name__" {
					name = m.Value
				}
			}
			out = append(out, name)
		}
		return nil
	})
	if len(out) == 0 {
		return nil, fmt.Errorf("no metric selector in %q", expr)
	}
	return out, nil
}

func TestMetricNamesOfPromQL(t *testing.T) {
	got, err := metricNames(`sum by (le) (rate(a_bucket{x="y"}[5m])) / on (job) b and {__name__="c"} unless vector(time()) > 3`)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"a_bucket", "b", "c"}) {
		t.Fatalf("names %v, want a_bucket, b, c", got)
	}
	if _, err := metricNames(`sum(rate(x[5m])`); err == nil {
		t.Fatal("an unbalanced expression parsed")
	}
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record      string            `yaml:"record"`
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readRules(t *testing.T, path string) ruleFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(f.Groups) == 0 {
		t.Fatalf("%s: no rule groups", path)
	}
	return f
}

// recordedNames are the series rules.yml records, which the dashboard and other rules may use.
func recordedNames(t *testing.T) map[string]bool {
	out := map[string]bool{}
	for _, g := range readRules(t, "rules.yml").Groups {
		for _, r := range g.Rules {
			if r.Record == "" {
				t.Errorf("rules.yml: group %s has a rule that records nothing (alerts go in alerts.yml)", g.Name)
			}
			out[r.Record] = true
		}
	}
	return out
}

// checkExpr reports an expression that does not parse or uses a metric that is neither exported, recorded, nor
// Prometheus' own.
func checkExpr(t *testing.T, where, expr string, exported, recorded map[string]bool) {
	t.Helper()
	names, err := metricNames(expr)
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return
	}
	for _, n := range names {
		if !exported[n] && !recorded[n] && !slices.Contains(prometheusOwn, n) {
			t.Errorf("%s uses %s, which the daemon does not export (nor do the rules record it)", where, n)
		}
	}
}

func TestRulesUseExportedMetrics(t *testing.T) {
	exported, recorded := exportedNames(t), recordedNames(t)
	for _, file := range []string{"rules.yml", "alerts.yml"} {
		for _, g := range readRules(t, file).Groups {
			for _, r := range g.Rules {
				checkExpr(t, fmt.Sprintf("%s: %s%s", file, r.Record, r.Alert), r.Expr, exported, recorded)
			}
		}
	}
}

// headingAnchors returns the anchors GitHub gives the headings of a Markdown file: lower case, spaces as hyphens,
// other punctuation dropped.
func headingAnchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	drop := regexp.MustCompile(`[^a-z0-9 _-]`)
	out := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if title, ok := strings.CutPrefix(line, "#"); ok {
			title = strings.TrimSpace(strings.TrimLeft(title, "#"))
			out[strings.ReplaceAll(drop.ReplaceAllString(strings.ToLower(title), ""), " ", "-")] = true
		}
	}
	return out
}

const runbookPrefix = "https://github.com/o2o-dispatch/dispatchd/blob/main/docs/operations.md#"

// Every alert says how bad it is, what happened and where its runbook is, and that section of
// docs/operations.md exists.
func TestAlertsHaveSeverityTextAndRunbook(t *testing.T) {
	anchors := headingAnchors(t, "../docs/operations.md")
	n := 0
	for _, g := range readRules(t, "alerts.yml").Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("alerts.yml: group %s records %s (recording rules go in rules.yml)", g.Name, r.Record)
				continue
			}
			n++
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", r.Alert, s)
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s", r.Alert, a)
				}
			}
			anchor, ok := strings.CutPrefix(r.Annotations["runbook_url"], runbookPrefix)
			if !ok || !anchors[anchor] {
				t.Errorf("%s: runbook_url %q is not a section of docs/operations.md", r.Alert, r.Annotations["runbook_url"])
			}
			if anchor != strings.ToLower(r.Alert) {
				t.Errorf("%s: runbook_url points at #%s, want the alert's own section #%s", r.Alert, anchor, strings.ToLower(r.Alert))
			}
		}
	}
	if n == 0 {
		t.Fatal("alerts.yml has no alert")
	}
}

// Every alert of alerts.yml has unit tests in alerts_test.yml that show it firing and that show it quiet.
func TestEveryAlertIsTestedBothWays(t *testing.T) {
	b, err := os.ReadFile("alerts_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	var tests struct {
		RuleFiles []string `yaml:"rule_files"`
		Tests     []struct {
			AlertRuleTest []struct {
				AlertName string           `yaml:"alertname"`
				ExpAlerts []map[string]any `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal(b, &tests); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(tests.RuleFiles, "alerts.yml") || !slices.Contains(tests.RuleFiles, "rules.yml") {
		t.Fatalf("alerts_test.yml loads %v, want alerts.yml and rules.yml", tests.RuleFiles)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.AlertName] = true
			} else {
				quiet[a.AlertName] = true
			}
		}
	}
	for _, g := range readRules(t, "alerts.yml").Groups {
		for _, r := range g.Rules {
			if !fires[r.Alert] {
				t.Errorf("%s: no test in alerts_test.yml where it fires", r.Alert)
			}
			if !quiet[r.Alert] {
				t.Errorf("%s: no test in alerts_test.yml where it stays quiet", r.Alert)
			}
		}
	}
}

// dashboard is the part of a Grafana dashboard this test reads.
type dashboard struct {
	Title         string `json:"title"`
	UID           string `json:"uid"`
	SchemaVersion int    `json:"schemaVersion"`
	Panels        []struct {
		ID         int             `json:"id"`
		Type       string          `json:"type"`
		Title      string          `json:"title"`
		Datasource json.RawMessage `json:"datasource"`
		Targets    []struct {
			Datasource json.RawMessage `json:"datasource"`
			Expr       string          `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Type       string          `json:"type"`
			Name       string          `json:"name"`
			Query      json.RawMessage `json:"query"`
			Datasource json.RawMessage `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []struct {
			BuiltIn    int             `json:"builtIn"`
			Datasource json.RawMessage `json:"datasource"`
			Expr       string          `json:"expr"`
		} `json:"list"`
	} `json:"annotations"`
}

// grafanaVars stands in for Grafana's variables, so that a query parses as the PromQL Grafana sends: the interval
// variables become a duration, the others (label values in quotes) a plain word.
var grafanaVars = regexp.MustCompile(`\$(__rate_interval|__interval|__range)\b|\$\{[A-Za-z0-9_]+(:[a-z]+)?\}|\$[A-Za-z_][A-Za-z0-9_]*`)

func promQLOf(grafanaQuery string) string {
	return grafanaVars.ReplaceAllStringFunc(grafanaQuery, func(v string) string {
		if strings.HasPrefix(v, "$__") {
			return "5m"
		}
		return "x"
	})
}

// labelValues matches Grafana's label_values(selector, label) variable query.
var labelValues = regexp.MustCompile(`^label_values\((.+),\s*[A-Za-z_][A-Za-z0-9_]*\)$`)

// The dashboard: every query parses and uses only exported or recorded metrics, every panel and query uses the
// ${datasource} variable (no data source uid is written in it), panel ids are unique.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile("grafana/dispatchd.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana/dispatchd.json: %v", err)
	}
	if d.UID == "" || d.Title == "" || d.SchemaVersion < 39 {
		t.Errorf("uid %q, title %q, schemaVersion %d: want a uid, a title and the schema of a current Grafana (39 or later)",
			d.UID, d.Title, d.SchemaVersion)
	}
	exported, recorded := exportedNames(t), recordedNames(t)
	const ds = `{"type":"prometheus","uid":"${datasource}"}`
	sameDS := func(where string, raw json.RawMessage) {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Errorf("%s: data source %s: %v", where, raw, err)
			return
		}
		got, _ := json.Marshal(v)
		if string(got) != ds {
			t.Errorf("%s: data source %s, want %s", where, got, ds)
		}
	}

	hasDSVar := false
	for _, v := range d.Templating.List {
		switch v.Type {
		case "datasource":
			var q string
			json.Unmarshal(v.Query, &q)
			hasDSVar = hasDSVar || (v.Name == "datasource" && q == "prometheus")
		case "query":
			sameDS("variable "+v.Name, v.Datasource)
			var q struct{ Query string }
			if err := json.Unmarshal(v.Query, &q); err != nil {
				t.Errorf("variable %s: query %s: %v", v.Name, v.Query, err)
				continue
			}
			m := labelValues.FindStringSubmatch(q.Query)
			if m == nil {
				t.Errorf("variable %s: query %q is not label_values(selector, label)", v.Name, q.Query)
				continue
			}
			checkExpr(t, "variable "+v.Name, promQLOf(m[1]), exported, recorded)
		}
	}
	if !hasDSVar {
		t.Error("no datasource variable named datasource, of type prometheus")
	}
	for _, a := range d.Annotations.List {
		if a.BuiltIn == 0 {
			sameDS("annotation", a.Datasource)
			checkExpr(t, "annotation", promQLOf(a.Expr), exported, recorded)
		}
	}

	ids, queries := map[int]bool{}, 0
	for _, p := range d.Panels {
		where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if ids[p.ID] {
			t.Errorf("%s: id used twice", where)
		}
		ids[p.ID] = true
		if len(p.Panels) > 0 {
			t.Errorf("%s: a collapsed row; keep rows open so that this test sees every panel", where)
		}
		if p.Type == "row" {
			continue
		}
		sameDS(where, p.Datasource)
		if len(p.Targets) == 0 {
			t.Errorf("%s: no query", where)
		}
		for i, q := range p.Targets {
			sameDS(fmt.Sprintf("%s, query %d", where, i), q.Datasource)
			checkExpr(t, fmt.Sprintf("%s, query %d", where, i), promQLOf(q.Expr), exported, recorded)
			queries++
		}
	}
	if queries == 0 {
		t.Fatal("the dashboard has no query")
	}
	if strings.Contains(string(b), `"uid": "P`) || strings.Contains(string(b), `"__inputs"`) {
		t.Error("the dashboard names a data source of its own (a uid or an import input) instead of ${datasource}")
	}
}
