package rlc_test

import (
	"context"
	"testing"

	rlc "github.com/rlc-project/rlc/bindings/go"
)

type item struct {
	Name string `json:"name"`
	N    int    `json:"n"`
}

// What the /json route reports back.
type jsonEcho struct {
	Method      string `json:"method"`
	ContentType string `json:"contentType"`
	Body        item   `json:"body"`
	Raw         string `json:"raw"`
}

func TestJSONBodyAndDecodeJSON(t *testing.T) {
	s := newTestServer(t)
	c := newClient(t, rlc.Config{BaseURL: s.URL})
	ctx := context.Background()

	resp, err := c.Do(ctx, rlc.NewRequest("POST", "/json", rlc.JSONBody(item{"ada", 3})), 0)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	var got jsonEcho
	if err := resp.DecodeJSON(&got); err != nil {
		t.Fatalf("DecodeJSON: %v (body %q)", err, resp.Body)
	}
	if got.Method != "POST" || got.ContentType != "application/json" || got.Body != (item{"ada", 3}) {
		t.Fatalf("the server saw %+v", got)
	}

	// The caller's own Content-Type wins.
	req := rlc.NewRequest("PUT", "/json", rlc.JSONBody(item{"bob", 1}))
	req.Header.Set("Content-Type", "application/merge-patch+json")
	resp, err = c.Do(ctx, req, 0)
	if err != nil {
		t.Fatal(err)
	}
	got = jsonEcho{}
	if err := resp.DecodeJSON(&got); err != nil || got.ContentType != "application/merge-patch+json" ||
		got.Body != (item{"bob", 1}) {
		t.Fatalf("got %+v, %v", got, err)
	}

	// A literal Request with no Header map works too.
	lit := &rlc.Request{Method: "POST", Path: "/json"}
	rlc.JSONBody([]int{1, 2})(lit)
	resp, err = c.Do(ctx, lit, 0)
	var echo struct {
		ContentType string `json:"contentType"`
		Body        []int  `json:"body"`
	}
	if err != nil || resp.DecodeJSON(&echo) != nil || echo.ContentType != "application/json" || len(echo.Body) != 2 {
		t.Fatalf("literal request: %v %+v", err, echo)
	}

	// A body that is not JSON is a decoding error, not a panic.
	resp, err = c.Do(ctx, get("/ok"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.DecodeJSON(&got); err == nil {
		t.Fatal("DecodeJSON of \"ok\" succeeded")
	}
}

func TestJSONBodyRefusals(t *testing.T) {
	s := newTestServer(t)
	c := newClient(t, rlc.Config{BaseURL: s.URL})
	// encoding/json cannot encode a channel: the submit fails, nothing is sent.
	_, err := c.Do(context.Background(), rlc.NewRequest("POST", "/json", rlc.JSONBody(make(chan int))), 0)
	isCode(t, err, rlc.ErrInvalidArgument)
	req := rlc.NewRequest("POST", "/json", rlc.JSONBody(1))
	req.Body = []byte("also a body")
	_, err = c.Do(context.Background(), req, 0)
	isCode(t, err, rlc.ErrInvalidArgument)
	if n := s.hitCount("/json"); n != 0 {
		t.Fatalf("the server saw %d requests, want 0", n)
	}
}
