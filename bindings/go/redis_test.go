package rlc_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	rlc "github.com/rlc-project/rlc/bindings/go"
)

// startRedis starts a redis-server on a free 127.0.0.1 port with persistence off,
// stopped when the test ends; the test is skipped when redis-server is not
// installed (CI installs it: .ci/run).
func startRedis(t *testing.T, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("SKIPPED: redis-server is not installed (apt-get install redis-server)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	all := append([]string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--loglevel", "warning"}, args...)
	cmd := exec.Command("redis-server", all...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if conn, err := net.Dial("tcp", addr); err == nil {
			_, _ = conn.Write([]byte("PING\r\n"))
			buf := make([]byte, 16)
			n, _ := conn.Read(buf)
			conn.Close()
			if strings.HasPrefix(string(buf[:n]), "+PONG") || strings.HasPrefix(string(buf[:n]), "-NOAUTH") {
				return "redis://" + addr + "/0"
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("redis-server did not answer within 10 s")
	return ""
}

func TestTwoClientsShareOneLimitThroughRedis(t *testing.T) {
	url := startRedis(t)
	s := newTestServer(t)
	cfg := func() rlc.Config {
		return rlc.Config{
			BaseURL:   s.URL,
			RateLimit: &rlc.RateLimit{Max: 40, Window: time.Second},
			Redis:     &rlc.Redis{URL: url, Key: "go-test", Failure: rlc.RedisFailClosed, LocalShare: 50, MaxLease: 2},
		}
	}
	a, b := newClient(t, cfg()), newClient(t, cfg())
	for i := 0; i < 4; i++ {
		for _, c := range []*rlc.Client{a, b} {
			if resp, err := c.Do(context.Background(), get("/ok"), 0); err != nil || resp.Status != 200 {
				t.Fatalf("Do: %v", err)
			}
		}
	}
	st, err := b.RedisStatus()
	if err != nil {
		t.Fatal(err)
	}
	if st.State != rlc.RedisConnected || st.Clients != 2 || st.TokensLeased < 4 || st.RoundTrips < 2 {
		t.Fatalf("status %+v", st)
	}
	if st, _ := newClient(t, rlc.Config{BaseURL: s.URL}).RedisStatus(); st.State != rlc.RedisOff {
		t.Fatalf("a client without Redis: %+v", st)
	}
}

func TestRedisThatRefusesIsErrRedisWithoutThePassword(t *testing.T) {
	url := startRedis(t, "--requirepass", "right-one")
	s := newTestServer(t)
	wrong := strings.Replace(url, "redis://", "redis://:wrong-pass-123@", 1)
	_, err := rlc.NewClient(rlc.Config{
		BaseURL:   s.URL,
		RateLimit: &rlc.RateLimit{Max: 5, Window: time.Second},
		Redis:     &rlc.Redis{URL: wrong, Key: "k"},
	})
	if !errors.Is(err, rlc.ErrRedis) {
		t.Fatalf("got %v, want ErrRedis", err)
	}
	if strings.Contains(err.Error(), "wrong-pass-123") {
		t.Fatalf("the password reached the message: %v", err)
	}
	if rlc.ErrRedis.String() != "RLC_E_REDIS" {
		t.Fatal(rlc.ErrRedis.String())
	}
	_, err = rlc.NewClient(rlc.Config{BaseURL: s.URL, Redis: &rlc.Redis{URL: "http://x", Key: "k"}})
	if !errors.Is(err, rlc.ErrInvalidArgument) {
		t.Fatalf("a bad URL gave %v", err)
	}
}
