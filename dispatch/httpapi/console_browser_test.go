package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/paulmach/orb"

	"github.com/o2o-dispatch/dispatchd/dispatch/daemon"
	"github.com/o2o-dispatch/dispatchd/dispatch/httpapi/console"
	"github.com/o2o-dispatch/dispatchd/geo/roads"
	"github.com/o2o-dispatch/dispatchd/geo/roads/roadstest"
)

// The browser tests drive the built console in Debian's chromium (headless, no GPU). Without chromium on PATH (or
// $DISPATCHD_CHROMIUM), or without a built console (make console), they skip, unless DISPATCHD_BROWSER=required:
// then they fail, so that CI cannot pass by skipping them (.ci/run sets it). Screenshots go to $DISPATCHD_ARTIFACTS
// when set, else to the test's temporary directory; each test logs where.

// browserOrSkip returns the chromium to use, or skips (fails when the browser is required).
func browserOrSkip(t testing.TB) string {
	t.Helper()
	required := os.Getenv("DISPATCHD_BROWSER") == "required"
	stop := t.Skipf
	if required {
		stop = t.Fatalf
	}
	if !console.Built() {
		stop("the console is not built: run make console (browser tests need the page, not its placeholder)")
	}
	path := os.Getenv("DISPATCHD_CHROMIUM")
	if path == "" {
		for _, name := range []string{"chromium", "chromium-browser"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		stop("chromium is not on PATH (bash .ci/install-chromium, or set DISPATCHD_CHROMIUM); DISPATCHD_BROWSER=required makes this a failure")
	}
	return path
}

// artifactDir is where a test's screenshots go.
func artifactDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("DISPATCHD_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// newBrowser starts a headless chromium and returns a tab's context; the browser stops when the test ends.
func newBrowser(t testing.TB, path string) context.Context {
	t.Helper()
	return newBrowserIn(t, path, t.TempDir())
}

// newBrowserIn is newBrowser with the browser's profile in dir (which names its processes: see browserCPU).
func newBrowserIn(t testing.TB, path, dir string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("enable-precise-memory-info", true),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(1400, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int]("1")); err != nil { // starts the browser
		cancel()
		cancelAlloc()
		t.Fatalf("starting %s: %v", path, err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return ctx
}

// within runs steps with a deadline, failing the test with what was being waited for.
func within(t testing.TB, ctx context.Context, d time.Duration, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := chromedp.Do(c, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func screenshot(t testing.TB, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// inkedPixels counts the pixels that are not transparent in the canvases that match a CSS selector.
func inkedPixels(t testing.TB, ctx context.Context, selector string) int {
	t.Helper()
	return evalJS[int](t, ctx, fmt.Sprintf(`(() => {
		let n = 0;
		for (const c of document.querySelectorAll(%q)) {
			const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
			for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
		}
		return n;
	})()`, selector))
}

func evalJS[T any](t testing.TB, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// TestConsoleInBrowser: the login (from the URL fragment and from the form), the city's couriers and stores on the
// map, an order placed over the API in the list within 2 s (the bound: the stream sends changes every
// 500 ms), and a bad token back at the login.
func TestConsoleInBrowser(t *testing.T) {
	chromium := browserOrSkip(t)
	arts := artifactDir(t)
	f := newFixture(t)
	// A few more stores and couriers on shift, so that the map has a city to show.
	for i, loc := range [][2]float64{{31.236, 121.468}, {31.226, 121.482}} {
		f.expect(201, "PUT", fmt.Sprintf("/v1/stores/s%d", i+2), adminToken, fmt.Sprintf(`{"name":"Store %d","location":{"lat":%v,"lon":%v}}`, i+2, loc[0], loc[1]))
	}
	tokens := map[string]string{}
	for i, loc := range [][2]float64{{31.229, 121.470}, {31.238, 121.479}, {31.233, 121.466}} {
		id := fmt.Sprintf("c%d", i)
		var c struct{ Token string }
		json.Unmarshal(f.expect(201, "PUT", "/v1/couriers/"+id, adminToken, `{"capacity":3}`), &c)
		tokens[id] = c.Token
		f.expect(200, "POST", "/v1/courier/shift", c.Token, fmt.Sprintf(`{"status":"online","location":{"lat":%v,"lon":%v}}`, loc[0], loc[1]))
	}
	var op struct{ Key string }
	json.Unmarshal(f.expect(201, "POST", "/v1/api-keys", adminToken, `{"name":"console","role":"operator"}`), &op)
	ctx := newBrowser(t, chromium)

	t.Run("FragmentLogin", func(t *testing.T) {
		within(t, ctx, 15*time.Second, "the map with the city",
			chromedp.Navigate(f.srv.URL+"/console/#token="+op.Key),
			chromedp.WaitVisible(chromedp.CSS(`#map [data-courier-id="a"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#map [data-courier-id="c2"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#map [data-store-id="s1"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#map [data-store-id="s3"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#list-orders [data-order-id="`+f.order+`"]`)),
		)
		// Every courier on shift is on the map; courier b never went on shift and has no position.
		if n := evalJS[int](t, ctx, `document.querySelectorAll('#map [data-courier-id]').length`); n != 4 {
			t.Errorf("%d couriers on the map, want 4", n)
		}
		if n := evalJS[int](t, ctx, `document.querySelectorAll('#map [data-store-id]').length`); n != 3 {
			t.Errorf("%d stores on the map, want 3", n)
		}
		// The tabs count couriers on shift of all, stores and open orders, the hidden lists' too.
		counts := evalJS[string](t, ctx, `['orders', 'couriers', 'stores'].map((n) => document.getElementById('count-' + n).textContent).join(' ')`)
		if counts != "1 4/5 3" {
			t.Errorf("tab counts %q, want \"1 4/5 3\"", counts)
		}
		if h := evalJS[string](t, ctx, `location.hash`); h != "" {
			t.Errorf("the token is still in the address bar: %q", h)
		}
		if got := evalJS[string](t, ctx, `sessionStorage.getItem('dispatchd.console.token')`); got != op.Key {
			t.Errorf("session storage holds %q", got)
		}
		if c := evalJS[string](t, ctx, `document.cookie`); c != "" {
			t.Errorf("the console set a cookie: %q", c)
		}
		// Courier a carries the fixture's order and goes to its store.
		if cls := evalJS[string](t, ctx, `document.querySelector('#map [data-courier-id="a"]').className`); !strings.Contains(cls, "to_store") {
			t.Errorf("courier a's marker is %q, want to_store", cls)
		}
		screenshot(t, ctx, arts, "console-city.png")
	})

	t.Run("OrderAppears", func(t *testing.T) {
		var placed struct{ ID string }
		json.Unmarshal(f.expect(201, "POST", "/v1/orders", f.key, `{"store_id":"s2","dropoff":{"lat":31.232,"lon":121.475}}`), &placed)
		within(t, ctx, 2*time.Second, "the new order in the list",
			chromedp.WaitVisible(chromedp.CSS(`#list-orders [data-order-id="`+placed.ID+`"]`)))
		// Its panel shows the timeline read from the API.
		within(t, ctx, 5*time.Second, "the order's panel",
			chromedp.Click(chromedp.CSS(`#list-orders [data-order-id="`+placed.ID+`"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#detail ol li`)))
		if txt := evalJS[string](t, ctx, `document.querySelector('#detail ol').textContent`); !strings.Contains(txt, "pending") {
			t.Errorf("timeline %q", txt)
		}
		screenshot(t, ctx, arts, "console-order.png")

		// Assigned to courier c2 in the panel, it reaches c2's stream.
		stream := courierStream(t, f, tokens["c2"])
		within(t, ctx, 5*time.Second, "assigning the order to c2",
			chromedp.SetValue(chromedp.CSS(`#assign-courier`), "c2"),
			chromedp.Click(chromedp.CSS(`#detail [data-action="assign"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#override-result`)))
		select {
		case <-stream.sawOrder(placed.ID):
		case <-time.After(5 * time.Second):
			t.Fatalf("the order assigned in the console did not reach c2's stream; the panel says %q",
				evalJS[string](t, ctx, `document.getElementById('override-result').textContent`))
		}
		if v, _ := f.d.View().Order(placed.ID); v.CourierID != "c2" || v.Timeline[len(v.Timeline)-1].By == "" {
			t.Errorf("the order after the console's assignment: %+v", v)
		}
		screenshot(t, ctx, arts, "console-assigned.png")
	})

	t.Run("BadToken", func(t *testing.T) {
		within(t, ctx, 10*time.Second, "the login after a bad token",
			chromedp.Navigate(f.srv.URL+"/console/#token=dk_NOTAKEY"),
			chromedp.WaitVisible(chromedp.CSS(`#login`)),
			chromedp.WaitVisible(chromedp.CSS(`#login-error`)))
		if txt := evalJS[string](t, ctx, `document.getElementById('login-error').textContent`); !strings.Contains(txt, "refused") {
			t.Errorf("login message %q", txt)
		}
		if got := evalJS[any](t, ctx, `sessionStorage.getItem('dispatchd.console.token')`); got != nil {
			t.Errorf("the refused token is kept: %v", got)
		}
		screenshot(t, ctx, arts, "console-login.png")
		// The form: the admin token typed in.
		within(t, ctx, 10*time.Second, "signing in with the form",
			chromedp.SendKeys(chromedp.CSS(`#token`), adminToken),
			chromedp.Click(chromedp.CSS(`#login button[type="submit"]`)),
			chromedp.WaitNotVisible(chromedp.CSS(`#login`)),
			chromedp.WaitVisible(chromedp.CSS(`#map [data-courier-id="a"]`)))
	})
}

// TestConsoleRoadsInBrowser: with a road map, the base layer is drawn from the daemon's roads and a courier's route
// is drawn (on the roads: see the screenshot).
func TestConsoleRoadsInBrowser(t *testing.T) {
	chromium := browserOrSkip(t)
	arts := artifactDir(t)
	centre := orb.Point{7.4246, 43.7384}
	net, err := roads.Import(context.Background(), roadstest.Grid(t, centre, 12, 120), roads.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := daemon.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.DispatchInterval = time.Hour
	cfg.Engine.PostponeSlack = 0
	cfg.Travel = net
	d, err := daemon.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	srv := httptest.NewServer(New(d, Config{AdminToken: adminToken, Travel: net}).Handler())
	t.Cleanup(func() {
		d.StopStreams()
		srv.Close()
		stop()
		<-done
	})
	call := func(want int, method, path, token, body string) []byte {
		t.Helper()
		resp, b := request(t, srv, method, path, token, body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return b
	}
	call(201, "PUT", "/v1/stores/s1", adminToken, `{"location":{"lat":43.7360,"lon":7.4210}}`)
	var c struct{ Token string }
	json.Unmarshal(call(201, "PUT", "/v1/couriers/r1", adminToken, `{"capacity":2}`), &c)
	call(200, "POST", "/v1/courier/shift", c.Token, `{"status":"online","location":{"lat":43.7405,"lon":7.4280}}`)
	var k struct{ Key string }
	json.Unmarshal(call(201, "POST", "/v1/api-keys", adminToken, `{"name":"shop"}`), &k)
	call(201, "POST", "/v1/orders", k.Key, `{"store_id":"s1","dropoff":{"lat":43.7410,"lon":7.4190}}`)
	if err := d.DispatchNow(context.Background()); err != nil {
		t.Fatal(err)
	}

	ctx := newBrowser(t, chromium)
	within(t, ctx, 20*time.Second, "the map on its roads",
		chromedp.Navigate(srv.URL+"/console/#token="+adminToken),
		chromedp.WaitVisible(chromedp.CSS(`#map [data-courier-id="r1"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#map [data-store-id="s1"]`)),
		chromedp.WaitReady(chromedp.CSS(`#map .leaflet-tile-loaded`)))
	// A drawn tile has road pixels: some of its pixels are not transparent.
	if n := inkedPixels(t, ctx, "#map canvas.leaflet-tile-loaded"); n == 0 {
		t.Error("no road drawn on the base layer's tiles")
	}
	// The courier's route is on the overlay's canvas, beside the one drop-off: a line of a few hundred metres
	// inks far more pixels than a dot.
	if n := inkedPixels(t, ctx, "#map .leaflet-overlay-pane canvas"); n < 500 {
		t.Errorf("%d pixels inked on the overlay: no route drawn", n)
	}
	screenshot(t, ctx, arts, "console-roads.png")
}

// streamWatch reads a courier's stream in the background.
type streamWatch struct {
	mu   sync.Mutex
	seen string
	tick chan struct{}
}

// courierStream opens GET /v1/courier/stream with a courier's token and keeps what it sends; the stream closes with
// the test.
func courierStream(t *testing.T, f *fixture, token string) *streamWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/v1/courier/stream", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := f.srv.Client().Do(req)
	if err != nil || resp.StatusCode != 200 {
		cancel()
		t.Fatalf("courier stream: %v %v", err, resp)
	}
	w := &streamWatch{tick: make(chan struct{}, 1)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(w.tick) // ends sawOrder's watchers
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			w.mu.Lock()
			w.seen += string(buf[:n])
			w.mu.Unlock()
			select {
			case w.tick <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { cancel(); resp.Body.Close(); <-done })
	return w
}

// sawOrder is closed once the stream has mentioned the order.
func (w *streamWatch) sawOrder(id string) <-chan struct{} {
	out := make(chan struct{})
	go func() {
		for range w.tick {
			w.mu.Lock()
			ok := strings.Contains(w.seen, id)
			w.mu.Unlock()
			if ok {
				close(out)
				return
			}
		}
	}()
	return out
}
