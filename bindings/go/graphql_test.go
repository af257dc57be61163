package rlc_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rlc "github.com/rlc-project/rlc/bindings/go"
)

// graphqlServer answers like Shopify: {data, extensions.cost}; "fail" in the query
// gives an error; while throttleNext > 0, THROTTLED at HTTP 200.
type graphqlServer struct {
	*httptest.Server
	mu           sync.Mutex
	received     []map[string]any
	throttleNext atomic.Int32
}

func newGraphQLServer(t *testing.T) *graphqlServer {
	s := &graphqlServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		s.mu.Lock()
		s.received = append(s.received, body)
		s.mu.Unlock()
		status := map[string]any{"maximumAvailable": 1000, "currentlyAvailable": 990, "restoreRate": 50}
		var answer map[string]any
		query, _ := body["query"].(string)
		switch {
		case s.throttleNext.Add(-1) >= 0:
			answer = map[string]any{
				"errors":     []any{map[string]any{"message": "Throttled", "extensions": map[string]any{"code": "THROTTLED"}}},
				"extensions": map[string]any{"cost": map[string]any{"requestedQueryCost": 10, "actualQueryCost": nil, "throttleStatus": status}},
			}
		case strings.Contains(query, "fail"):
			answer = map[string]any{
				"data":   map[string]any{"partial": 1},
				"errors": []any{map[string]any{"message": "Field 'fail' doesn't exist", "path": []any{"fail"}}},
			}
		default:
			answer = map[string]any{
				"data":       map[string]any{"echo": body["variables"], "operationName": body["operationName"]},
				"extensions": map[string]any{"cost": map[string]any{"requestedQueryCost": 10, "actualQueryCost": 4, "throttleStatus": status}},
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(answer)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *graphqlServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.received)
}

func newGraphQLClient(t *testing.T, cfg rlc.Config) *rlc.Client {
	c, err := rlc.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestGraphQLDecodesData(t *testing.T) {
	s := newGraphQLServer(t)
	c := newGraphQLClient(t, rlc.Config{BaseURL: s.URL, CostLimits: []rlc.CostLimit{{Points: 1000, Window: 20 * time.Second}}})
	var out struct {
		Echo          map[string]int `json:"echo"`
		OperationName string         `json:"operationName"`
	}
	err := c.GraphQL(context.Background(), "query Q($n: Int) { items(first: $n) { id } }", map[string]int{"n": 5}, &out, rlc.OperationName("Q"))
	if err != nil {
		t.Fatal(err)
	}
	if out.Echo["n"] != 5 || out.OperationName != "Q" {
		t.Fatalf("data %+v", out)
	}
	m, err := c.GraphQLMetrics()
	if err != nil || m.Points != 4 {
		t.Fatalf("metrics %+v, %v", m, err)
	}
}

func TestGraphQLErrorsAreAGraphQLError(t *testing.T) {
	s := newGraphQLServer(t)
	c := newGraphQLClient(t, rlc.Config{BaseURL: s.URL})
	err := c.GraphQL(context.Background(), "{ fail }", nil, nil)
	var gerr *rlc.GraphQLError
	if !errors.As(err, &gerr) {
		t.Fatalf("want a *GraphQLError, got %v", err)
	}
	if len(gerr.Errors) != 1 || gerr.Errors[0].Message != "Field 'fail' doesn't exist" || gerr.Response.Status != 200 {
		t.Fatalf("errors %+v", gerr.Errors)
	}
	if string(gerr.Data) != `{"partial":1}` {
		t.Fatalf("data %s", gerr.Data)
	}
}

func TestGraphQLGarbageIsRefusedBeforeSending(t *testing.T) {
	s := newGraphQLServer(t)
	c := newGraphQLClient(t, rlc.Config{BaseURL: s.URL})
	err := c.GraphQL(context.Background(), "query {", nil, nil)
	var rerr *rlc.Error
	if !errors.Is(err, rlc.ErrGraphQL) || !errors.As(err, &rerr) || !strings.Contains(rerr.Message, "does not parse") {
		t.Fatalf("want ErrGraphQL, got %v", err)
	}
	if err := c.GraphQL(context.Background(), "{ a }", []int{1}, nil); !errors.Is(err, rlc.ErrGraphQL) {
		t.Fatalf("variables that are no object: %v", err)
	}
	if rlc.ErrGraphQL.String() != "RLC_E_GRAPHQL" {
		t.Fatal(rlc.ErrGraphQL.String())
	}
	if s.count() != 0 {
		t.Fatalf("%d sent", s.count())
	}
}

func TestGraphQLThrottledIsRetriedAndCounted(t *testing.T) {
	s := newGraphQLServer(t)
	c := newGraphQLClient(t, rlc.Config{BaseURL: s.URL, Retry: &rlc.Retry{MaxRetries: 5, BaseDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond}})
	s.throttleNext.Store(2)
	var out map[string]any
	if err := c.GraphQL(context.Background(), "mutation { add { id } }", nil, &out); err != nil {
		t.Fatal(err)
	}
	m, _ := c.GraphQLMetrics()
	if m.Throttled != 2 || s.count() != 3 {
		t.Fatalf("metrics %+v after %d answers", m, s.count())
	}
}

func TestGraphQLCostAboveTheLimitIsRefused(t *testing.T) {
	s := newGraphQLServer(t)
	c := newGraphQLClient(t, rlc.Config{BaseURL: s.URL, CostLimits: []rlc.CostLimit{{Points: 100, Window: time.Second}}})
	if err := c.GraphQL(context.Background(), "{ a }", nil, nil, rlc.GraphQLCost(101)); !errors.Is(err, rlc.ErrInvalidArgument) {
		t.Fatalf("want ErrInvalidArgument, got %v", err)
	}
	if err := c.GraphQL(context.Background(), "{ a }", nil, nil, rlc.GraphQLCost(100)); err != nil {
		t.Fatal(err)
	}
	if _, err := rlc.NewClient(rlc.Config{CostLimits: []rlc.CostLimit{{Points: 0, Window: time.Second}}}); !errors.Is(err, rlc.ErrInvalidArgument) {
		t.Fatalf("zero points: %v", err)
	}
}
