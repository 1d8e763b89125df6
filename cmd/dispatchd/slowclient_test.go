package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The server's timeouts in TestSlowClients: short, so that the test is quick; the streams must outlive them all.
var slowClientTimeouts = []string{"--read-header-timeout", "300ms", "--read-timeout", "600ms", "--write-timeout", "600ms",
	"--idle-timeout", "400ms", "--stream-heartbeat", "100ms"}

// rawConn is a client that speaks HTTP over TCP by hand. What the server sends is read in the background until the
// server closes the connection (or 15 s pass); closed is closed then.
type rawConn struct {
	net.Conn
	closed chan struct{}
	mu     sync.Mutex
	got    []byte
	err    error
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &rawConn{Conn: conn, closed: make(chan struct{})}
	conn.SetReadDeadline(time.Now().Add(15 * time.Second)) // bounds the test if the server never closes
	go func() {
		defer close(c.closed)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			c.mu.Lock()
			c.got = append(c.got, buf[:n]...)
			c.err = err
			c.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { conn.Close(); <-c.closed })
	return c
}

// closedByServer waits for the end of the connection and reports whether the server ended it (rather than the
// client's own deadline), with what it had sent.
func (c *rawConn) closedByServer() (bool, string) {
	<-c.closed
	c.mu.Lock()
	defer c.mu.Unlock()
	return !errors.Is(c.err, os.ErrDeadlineExceeded), string(c.got)
}

// TestSlowClients: a client that dribbles its headers, one that stalls its body and one that idles on a kept-alive
// connection are each cut by the server, while the streams, which are long responses, live on past every timeout.
func TestSlowClients(t *testing.T) {
	c, _ := startMain(t, t.TempDir(), slowClientTimeouts...)
	// The server closes a connection idle for 400 ms: a kept connection older than that could be closed just as a
	// request goes out on it (EOF, and a PUT is not retried). The test's own requests drop theirs after 100 ms.
	transport := &http.Transport{IdleConnTimeout: 100 * time.Millisecond}
	t.Cleanup(transport.CloseIdleConnections)
	c.http = &http.Client{Transport: transport}
	addr := strings.TrimPrefix(c.base, "http://")
	var key struct{ ID, Key string }
	c.must(201, "POST", "/v1/api-keys", testAdminToken, map[string]string{"name": "shop"}, &key)

	t.Run("HeadersDribbled", func(t *testing.T) {
		conn := dialRaw(t, addr)
		req := "GET /healthz HTTP/1.1\r\nHost: dispatchd\r\nUser-Agent: a-very-slow-client/1.0\r\n\r\n"
		sent := 0
	dribble:
		for ; sent < len(req); sent++ {
			if _, err := conn.Write([]byte{req[sent]}); err != nil {
				break
			}
			select {
			case <-conn.closed:
				break dribble
			case <-time.After(100 * time.Millisecond): // ten times as slow as the header timeout allows
			}
		}
		// net/http closes the connection, after a 400 when part of the request line came.
		byServer, got := conn.closedByServer()
		if !byServer || sent == len(req) || (got != "" && !strings.HasPrefix(got, "HTTP/1.1 400 ")) {
			t.Fatalf("closed by the server: %v, after %d of %d bytes, answer %q; want cut before the headers were complete",
				byServer, sent, len(req), got)
		}
	})

	t.Run("BodyStalled", func(t *testing.T) {
		conn := dialRaw(t, addr)
		body := `{"name":"stalled"}`
		head := "POST /v1/api-keys HTTP/1.1\r\nHost: dispatchd\r\nAuthorization: Bearer " + testAdminToken +
			"\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
		if _, err := conn.Write([]byte(head + body[:8])); err != nil { // then nothing more
			t.Fatal(err)
		}
		byServer, got := conn.closedByServer()
		if !byServer || strings.HasPrefix(got, "HTTP/1.1 2") {
			t.Fatalf("closed by the server: %v, answer %q; want the connection cut without a success", byServer, got)
		}
		var keys struct {
			APIKeys []struct{ Name string } `json:"api_keys"`
		}
		c.must(200, "GET", "/v1/api-keys", testAdminToken, nil, &keys)
		for _, k := range keys.APIKeys {
			if k.Name == "stalled" {
				t.Fatal("the stalled request made a key")
			}
		}
	})

	t.Run("IdleKeepAlive", func(t *testing.T) {
		conn := dialRaw(t, addr)
		if _, err := conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: dispatchd\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		byServer, got := conn.closedByServer()
		resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(got)), nil)
		if err != nil || resp.StatusCode != 200 || resp.Close {
			t.Fatalf("answer %q (%v); want a 200 that keeps the connection", got, err)
		}
		if !byServer {
			t.Fatal("the idle connection was kept open")
		}
	})

	t.Run("StreamsOutliveTheTimeouts", func(t *testing.T) {
		var courier struct{ Token string }
		c.must(201, "PUT", "/v1/couriers/rider-slow", testAdminToken, map[string]any{"capacity": 1}, &courier)
		// Four times the longest timeout: a stream cut by any of them would have ended by then.
		const life = 2400 * time.Millisecond
		var wg sync.WaitGroup
		for _, s := range []struct{ path, token string }{{"/v1/courier/stream", courier.Token}, {"/v1/events", key.Key}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := streamLives(c.base+s.path, s.token, life); err != nil {
					t.Errorf("%s: %v", s.path, err)
				}
			}()
		}
		wg.Wait()
	})
}

// streamLives opens a stream and reads it for the given time: it must keep sending (heartbeats at least) to the
// end.
func streamLives(url, token string, life time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), life+5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return errors.New(resp.Status + " " + string(b))
	}
	start := time.Now()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if time.Since(start) > life {
			return nil
		}
	}
	return errors.New("the stream ended after " + time.Since(start).Round(time.Millisecond).String() + ": " + errString(sc.Err()))
}

func errString(err error) string {
	if err == nil {
		return "closed by the server"
	}
	return err.Error()
}
