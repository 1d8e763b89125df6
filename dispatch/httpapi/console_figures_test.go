package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/chromedp"

	"github.com/o2o-dispatch/dispatchd/dispatch/daemon"
)

// The city of the console's figures: 50 stores, 2 000 couriers on shift and 5 000 open orders spread over 10 km
// around People's Square, after one dispatch round.
const (
	cityCouriers = 2000
	cityOrders   = 5000
	cityStores   = 50
)

// consoleCity is a running daemon holding the figures' city, behind an API server.
type consoleCity struct {
	srv  *httptest.Server
	d    *daemon.Daemon
	api  *Server
	pos  [][2]float64 // the couriers' positions, by index (courier c0000 is pos[0])
	rng  *rand.Rand
	call func(want int, method, path, token, body string) []byte
	// snapBytes is the size of the snapshot once the city is built.
	snapBytes int
}

func newConsoleCity(b *testing.B) *consoleCity {
	b.Helper()
	cfg := daemon.DefaultConfig()
	cfg.DataDir = b.TempDir()
	cfg.DispatchInterval = time.Hour
	rounds := daemon.NewRoundTimes(nil)
	cfg.Observer = rounds
	d, err := daemon.Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	api := New(d, Config{AdminToken: adminToken, Rounds: rounds})
	srv := httptest.NewServer(api.Handler())
	b.Cleanup(func() {
		d.StopStreams()
		srv.Close()
		stop()
		<-done
	})
	city := &consoleCity{srv: srv, d: d, api: api, rng: rand.New(rand.NewPCG(1, 2))}
	// call may run on other goroutines than the benchmark's: a failure is an error, and the benchmark stops after
	// the step that had it.
	call := func(want int, method, path, token, body string) []byte {
		req := httptest.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.RequestURI = ""
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := srv.Client().Do(req)
		if err != nil {
			b.Error(err)
			return nil
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			b.Errorf("%s %s: %d %s", method, path, resp.StatusCode, out)
		}
		return out
	}
	check := func(step string) {
		if b.Failed() {
			b.Fatalf("setting up the city: %s failed", step)
		}
	}
	// The city: stores and couriers spread over 10 km around People's Square, the orders' drop-offs likewise.
	centre := [2]float64{31.2304, 121.4737}
	place := func() (float64, float64) {
		const km = 1.0 / 111.32
		return centre[0] + (city.rng.Float64()-0.5)*10*km, centre[1] + (city.rng.Float64()-0.5)*10*km/math.Cos(centre[0]*math.Pi/180)
	}
	for i := range cityStores {
		lat, lon := place()
		call(201, "PUT", fmt.Sprintf("/v1/stores/s%02d", i), adminToken, fmt.Sprintf(`{"location":{"lat":%f,"lon":%f}}`, lat, lon))
	}
	check("stores")
	pos := make([][2]float64, cityCouriers)
	tokens := make([]string, cityCouriers)
	parallel(cityCouriers, func(i int) {
		var c struct{ Token string }
		json.Unmarshal(call(201, "PUT", fmt.Sprintf("/v1/couriers/c%04d", i), adminToken, `{"capacity":3}`), &c)
		tokens[i] = c.Token
	})
	for i := range pos {
		pos[i][0], pos[i][1] = place()
	}
	parallel(cityCouriers, func(i int) {
		call(200, "POST", "/v1/courier/shift", tokens[i], fmt.Sprintf(`{"status":"online","location":{"lat":%f,"lon":%f}}`, pos[i][0], pos[i][1]))
	})
	check("couriers")
	var key struct{ Key string }
	json.Unmarshal(call(201, "POST", "/v1/api-keys", adminToken, `{"name":"shop"}`), &key)
	drops := make([][2]float64, cityOrders)
	for i := range drops {
		drops[i][0], drops[i][1] = place()
	}
	parallel(cityOrders, func(i int) {
		call(201, "POST", "/v1/orders", key.Key, fmt.Sprintf(`{"store_id":"s%02d","dropoff":{"lat":%f,"lon":%f},"promise_seconds":3600}`, i%cityStores, drops[i][0], drops[i][1]))
	})
	check("orders")
	if err := d.DispatchNow(context.Background()); err != nil {
		b.Fatal(err)
	}
	snapBytes := len(call(200, "GET", "/v1/console/snapshot", adminToken, ""))
	v := d.View()
	b.Logf("city: %d couriers (%v), %d open orders (%v), snapshot %d KB", cityCouriers, v.CouriersByStatus(), cityOrders, v.OrdersByStatus(), snapBytes/1024)

	city.pos, city.call, city.snapBytes = pos, call, snapBytes
	return city
}

// BenchmarkConsoleCity measures the console in headless chromium over the figures' city (docs/console.md,
// "Figures"): the time from navigation to the first snapshot on screen, the frames a second the page draws idle and
// while every courier moves twice a second, the script time spent applying the stream's changes, and the page's
// memory. Run it alone, once:
//
//	go test ./dispatch/httpapi -run '^$' -bench BenchmarkConsoleCity -benchtime 1x -timeout 20m
//
// The figures depend on the machine (the page renders without a GPU) and are noisy on a shared one.
func BenchmarkConsoleCity(b *testing.B) {
	const (
		moveFor  = 15 * time.Second
		moveTick = 500 * time.Millisecond
		idleFor  = 5 * time.Second
	)
	chromium := browserOrSkip(b)
	arts := artifactDir(b)
	city := newConsoleCity(b)
	srv, rng, pos, call, snapBytes := city.srv, city.rng, city.pos, city.call, city.snapBytes
	for range b.N {
		profile := b.TempDir()
		ctx := newBrowserIn(b, chromium, profile)
		within(b, ctx, time.Minute, "the console's page", chromedp.Navigate(srv.URL+"/console/#token="+adminToken))
		pollCtx, cancelPoll := context.WithTimeout(ctx, 2*time.Minute)
		_, err := chromedp.Run(pollCtx, chromedp.Poll[bool](`window.dispatchdConsole && window.dispatchdConsole.firstRenderMs !== undefined`,
			chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(2*time.Minute)))
		cancelPoll()
		if err != nil {
			b.Fatalf("the first snapshot on screen: %v", err)
		}
		firstRender := evalJS[float64](b, ctx, `window.dispatchdConsole.firstRenderMs`)
		if n := evalJS[int](b, ctx, `document.querySelectorAll('#map [data-courier-id]').length`); n != cityCouriers {
			b.Fatalf("%d courier markers, want %d", n, cityCouriers)
		}
		screenshot(b, ctx, arts, "console-2000-couriers.png")

		// The page counts its frames: first for a few seconds with nothing moving, then while every courier moves a
		// few metres twice a second.
		evalJS[bool](b, ctx, `(() => { const p = window.dispatchdConsole; p.frames = 0;
			(function count() { p.frames++; requestAnimationFrame(count); })(); return true; })()`)
		time.Sleep(idleFor)
		idleFPS := evalJS[float64](b, ctx, `window.dispatchdConsole.frames`) / idleFor.Seconds()
		evalJS[bool](b, ctx, `(() => { const p = window.dispatchdConsole; p.frames = 0; p.deltas = 0; p.deltaMs = 0; return true; })()`)
		cpuBefore := browserCPU(b, profile)
		started := time.Now()
		for time.Since(started) < moveFor {
			tick := time.Now()
			var batch strings.Builder
			flush := func() {
				call(202, "POST", "/v1/courier-locations", adminToken, `{"locations":[`+batch.String()+`]}`)
				batch.Reset()
			}
			for i := range pos {
				pos[i][0] += (rng.Float64() - 0.5) * 0.0004
				pos[i][1] += (rng.Float64() - 0.5) * 0.0004
				if batch.Len() > 0 {
					batch.WriteByte(',')
				}
				fmt.Fprintf(&batch, `{"courier_id":"c%04d","location":{"lat":%f,"lon":%f}}`, i, pos[i][0], pos[i][1])
				if (i+1)%400 == 0 {
					flush()
				}
			}
			if batch.Len() > 0 {
				flush()
			}
			if b.Failed() {
				b.FailNow()
			}
			time.Sleep(moveTick - time.Since(tick))
		}
		elapsed := time.Since(started).Seconds()
		cpuMoving := (browserCPU(b, profile) - cpuBefore).Seconds() / elapsed
		type probe struct {
			Frames  float64 `json:"frames"`
			Deltas  float64 `json:"deltas"`
			DeltaMS float64 `json:"deltaMs"`
			Heap    float64 `json:"heap"`
		}
		p := evalJS[probe](b, ctx, `(() => { const p = window.dispatchdConsole;
			return {frames: p.frames, deltas: p.deltas, deltaMs: p.deltaMs, heap: performance.memory.usedJSHeapSize}; })()`)
		screenshot(b, ctx, arts, "console-2000-couriers-moving.png")
		if _, err := chromedp.Call(ctx, performance.Enable, performance.EnableParams{}); err != nil {
			b.Fatal(err)
		}
		res, err := chromedp.Call(ctx, performance.GetMetrics, cdp.Empty{})
		if err != nil {
			b.Fatal(err)
		}
		m := map[string]float64{}
		for _, x := range res.Metrics {
			m[x.Name] = x.Value
		}
		b.ReportMetric(firstRender, "first-render-ms")
		b.ReportMetric(idleFPS, "fps-idle")
		b.ReportMetric(p.Frames/elapsed, "fps-moving")
		b.ReportMetric(p.DeltaMS/math.Max(p.Deltas, 1), "ms/delta")
		b.ReportMetric(cpuMoving, "browser-cores-moving")
		b.ReportMetric(p.Heap/(1<<20), "js-heap-MB")
		b.ReportMetric(m["Nodes"], "dom-nodes")
		load, _ := os.ReadFile("/proc/loadavg")
		b.Logf("first render %.0f ms; %.1f frames/s idle, %.1f over %.0f s of movement, the browser using %.2f cores; "+
			"%.0f deltas applied, %.1f ms of script each; JS heap %.1f MB (CDP JSHeapUsedSize %.1f MB, total %.1f MB); "+
			"%v DOM nodes; snapshot %d KB; load average %s",
			firstRender, idleFPS, p.Frames/elapsed, elapsed, cpuMoving, p.Deltas, p.DeltaMS/math.Max(p.Deltas, 1), p.Heap/(1<<20),
			m["JSHeapUsedSize"]/(1<<20), m["JSHeapTotalSize"]/(1<<20), m["Nodes"], snapBytes/1024, strings.TrimSpace(string(load)))
	}
}

// parallel runs fn for 0..n-1 on 16 goroutines and waits for them.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// BenchmarkConsoleStreamTick measures what the console streams cost the daemon at each tick where the view changed,
// over the figures' city, after every courier moved (so that 2 000 couriers are sent again): the frame made from the
// view (once, whatever the number of streams) and one stream's comparison with what it last sent.
//
//	go test ./dispatch/httpapi -run '^$' -bench BenchmarkConsoleStreamTick -benchtime 20x
func BenchmarkConsoleStreamTick(b *testing.B) {
	city := newConsoleCity(b)
	st := newConsoleState()
	st.delta(city.api.consoleFrame(city.d.View()))
	var batch strings.Builder
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		for i := range city.pos {
			city.pos[i][0] += 0.0001
			if batch.Len() > 0 {
				batch.WriteByte(',')
			}
			fmt.Fprintf(&batch, `{"courier_id":"c%04d","location":{"lat":%f,"lon":%f}}`, i, city.pos[i][0], city.pos[i][1])
			if (i+1)%400 == 0 || i == len(city.pos)-1 {
				city.call(202, "POST", "/v1/courier-locations", adminToken, `{"locations":[`+batch.String()+`]}`)
				batch.Reset()
			}
		}
		// The positions are in the view once a read through the loop has been answered.
		if _, err := city.d.StoreDetail(context.Background(), "s00"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		d := st.delta(city.api.consoleFrame(city.d.View()))
		if len(d.Couriers) != cityCouriers {
			b.Fatalf("%d couriers changed, want %d", len(d.Couriers), cityCouriers)
		}
	}
}

// browserCPU is the CPU time (user and system) used so far by the browser's processes: those whose command line
// names the profile directory. Unlike frame rates, it is not inflated much when other work shares the machine.
func browserCPU(tb testing.TB, profile string) time.Duration {
	tb.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*")
	var ticks int64
	for _, dir := range procs {
		cmd, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil || !bytes.Contains(cmd, []byte(profile)) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue
		}
		// The fields after the command's name, which is in parentheses: utime and stime are the 12th and 13th.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 13 {
			continue
		}
		for _, f := range fields[11:13] {
			n, _ := strconv.ParseInt(f, 10, 64)
			ticks += n
		}
	}
	if ticks == 0 {
		tb.Fatalf("no process of the browser with profile %s in /proc", profile)
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ: 100 on Linux
}
