package rlc

/*
#include <stdlib.h>
#include "rlc.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
	"unsafe"
)

// CostLimit is a limit counted in points (a GraphQL API's cost budget): a bucket
// of Points refilled at Points per Window. Shopify's 1,000 points restored at 50 a
// second is CostLimit{1000, 20 * time.Second}; GitHub's 5,000 an hour is
// CostLimit{5000, time.Hour}. [Client.GraphQL] takes each query's cost from it,
// and corrects the charge to what the server reports afterwards.
type CostLimit struct {
	Points int
	Window time.Duration
}

// GraphQLError is a GraphQL answer with errors, or one that is not GraphQL at all
// (then Errors is empty). Data is whatever data came beside the errors (often
// null); Response is the whole answer.
type GraphQLError struct {
	Errors   []GraphQLErrorEntry
	Data     json.RawMessage
	Response *Response
}

// GraphQLErrorEntry is one entry of a GraphQL answer's "errors".
type GraphQLErrorEntry struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path,omitempty"`
	Locations  []GraphQLPlace `json:"locations,omitempty"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

// GraphQLPlace is a place in the query an error points at.
type GraphQLPlace struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

func (e *GraphQLError) Error() string {
	if len(e.Errors) == 0 {
		return fmt.Sprintf("rlc: not a GraphQL answer: HTTP %d", e.Response.Status)
	}
	if len(e.Errors) > 1 {
		return fmt.Sprintf("graphql: %s (and %d more)", e.Errors[0].Message, len(e.Errors)-1)
	}
	return "graphql: " + e.Errors[0].Message
}

// GraphQLOption changes one call of [Client.GraphQL].
type GraphQLOption func(*graphqlCall)

type graphqlCall struct {
	operationName string
	path          string
	priority      int
	request       Request
}

// OperationName picks the operation of the document that runs (needed when it
// holds several).
func OperationName(name string) GraphQLOption {
	return func(g *graphqlCall) { g.operationName = name }
}

// GraphQLCost gives the query's cost in points; without it GitHub's rule
// estimates it from the query (the requests each connection needs with every
// first/last filled, over 100, at least 1).
func GraphQLCost(points int) GraphQLOption {
	return func(g *graphqlCall) { g.request.Cost = points }
}

// GraphQLPath is where the endpoint is: a path joined to BaseURL, or a URL (the
// default is "/graphql").
func GraphQLPath(path string) GraphQLOption {
	return func(g *graphqlCall) { g.path = path }
}

// GraphQLPriority is the call's priority (higher goes first; 0 by default).
func GraphQLPriority(priority int) GraphQLOption {
	return func(g *graphqlCall) { g.priority = priority }
}

// GraphQLHeader adds a header to the call.
func GraphQLHeader(name, value string) GraphQLOption {
	return func(g *graphqlCall) { g.request.Header.Add(name, value) }
}

// GraphQLRetryMutation lets a mutation be retried after a transport failure too
// (a query always is; a THROTTLED answer, which means nothing ran, always is).
func GraphQLRetryMutation() GraphQLOption {
	return func(g *graphqlCall) { g.request.RetryNonIdempotent = true }
}

// graphqlOp is what rlc_graphql_request_new builds a request from.
type graphqlOp struct {
	query, variables, operationName string
	hasVariables                    bool
}

// GraphQL runs a GraphQL operation (a POST of {query, variables, operationName})
// and decodes its "data" into out (a pointer; nil discards it). vars is encoded
// with encoding/json and must encode to an object (nil sends none). It returns a
// *GraphQLError carrying the server's errors when the answer has any, an *Error
// when no answer came, and ErrGraphQL at once for a query that does not parse.
// THROTTLED answers are retried, never returned. ctx is honoured as in [Client.Do].
func (c *Client) GraphQL(ctx context.Context, query string, vars any, out any, opts ...GraphQLOption) error {
	g := graphqlCall{path: "/graphql", request: Request{Method: http.MethodPost, Header: make(http.Header)}}
	for _, opt := range opts {
		opt(&g)
	}
	op := &graphqlOp{query: query, operationName: g.operationName}
	if vars != nil {
		b, err := json.Marshal(vars)
		if err != nil {
			return &Error{Code: ErrInvalidArgument, Message: "GraphQL variables: " + err.Error()}
		}
		op.variables, op.hasVariables = string(b), true
	}
	g.request.Path = g.path
	g.request.graphql = op
	resp, err := c.Do(ctx, &g.request, g.priority)
	if err != nil {
		return err
	}
	var body struct {
		Data json.RawMessage `json:"data"`
	}
	decodeErr := json.Unmarshal(resp.Body, &body)
	if len(resp.GraphQLErrors) > 0 || decodeErr != nil || body.Data == nil {
		gerr := &GraphQLError{Data: body.Data, Response: resp}
		if len(resp.GraphQLErrors) > 0 {
			if err := json.Unmarshal(resp.GraphQLErrors, &gerr.Errors); err != nil {
				return &Error{Code: ErrIO, Message: "GraphQL errors: " + err.Error()}
			}
		}
		return gerr
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(body.Data, out)
}

// buildGraphQL makes the rlc_request of a GraphQL call. The caller holds the OS
// thread locked (it runs inside call, through build).
func (r *Request) buildGraphQL() (*C.rlc_request, error) {
	op := r.graphql
	strs := []string{r.Path, op.query, op.variables, op.operationName}
	what := []string{"the path", "the GraphQL query", "the GraphQL variables", "the operation name"}
	cs := make([]*C.char, len(strs))
	for i, s := range strs {
		if (i == 2 && !op.hasVariables) || (i == 3 && s == "") {
			continue
		}
		c, err := cstring(what[i], s)
		if err != nil {
			for _, p := range cs[:i] {
				C.free(unsafe.Pointer(p))
			}
			return nil, err
		}
		cs[i] = c
	}
	defer func() {
		for _, p := range cs {
			C.free(unsafe.Pointer(p))
		}
	}()
	var req *C.rlc_request
	if err := check(C.rlc_graphql_request_new(cs[0], cs[1], cs[2], cs[3], &req)); err != nil {
		return nil, err
	}
	if err := r.fill(req); err != nil {
		C.rlc_request_free(req)
		return nil, err
	}
	return req, nil
}

// applyGraphQL sets the cost limits.
func (cfg *Config) applyGraphQL(c *C.rlc_config) error {
	for i, l := range cfg.CostLimits {
		points, err := u32(fmt.Sprintf("CostLimits[%d].Points", i), l.Points)
		if err != nil {
			return err
		}
		if err := nonNegative(fmt.Sprintf("CostLimits[%d].Window", i), l.Window); err != nil {
			return err
		}
		if err := check(C.rlc_config_set_cost_limit(c, points, millis(l.Window))); err != nil {
			return err
		}
	}
	return nil
}

// GraphQLMetrics counts a client's GraphQL answers.
type GraphQLMetrics struct {
	// Throttled is how many answers said THROTTLED (each retried like a 429).
	Throttled uint64
	// Points is the sum of the actual costs the servers reported.
	Points uint64
	// Errors is how many answers carried errors other than THROTTLED.
	Errors uint64
}

// GraphQLMetrics returns the client's GraphQL counters.
func (c *Client) GraphQLMetrics() (GraphQLMetrics, error) {
	var m GraphQLMetrics
	err := call(func() error {
		c.mu.RLock()
		defer c.mu.RUnlock()
		if c.ptr == nil {
			return errClosed()
		}
		for _, x := range []struct {
			metric C.uint32_t
			into   *uint64
		}{{C.RLC_METRIC_GRAPHQL_THROTTLED, &m.Throttled}, {C.RLC_METRIC_GRAPHQL_POINTS, &m.Points}, {C.RLC_METRIC_GRAPHQL_ERRORS, &m.Errors}} {
			var v C.uint64_t
			if err := check(C.rlc_client_metric(c.ptr, x.metric, &v)); err != nil {
				return err
			}
			*x.into = uint64(v)
		}
		return nil
	})
	return m, err
}
