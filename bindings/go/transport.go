package rlc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
)

type priorityKey struct{}

// WithPriority returns a copy of ctx that carries priority for requests sent
// through [Client.Transport] (higher goes first: 100 before 1). Without it a
// request has priority 0.
func WithPriority(ctx context.Context, priority int) context.Context {
	return context.WithValue(ctx, priorityKey{}, priority)
}

// priorityFrom is the priority WithPriority put in ctx, or 0.
func priorityFrom(ctx context.Context) int {
	if p, ok := ctx.Value(priorityKey{}).(int); ok {
		return p
	}
	return 0
}

// Transport returns an http.RoundTripper that sends every request through c, so
// that SDKs and code written for net/http get c's rate limit, priorities, retries
// and circuit breaker:
//
//	hc := &http.Client{Transport: client.Transport()}
//	req, _ := http.NewRequestWithContext(rlc.WithPriority(ctx, 100), "GET", url, nil)
//	resp, err := hc.Do(req)
//
// The request's context gives the priority ([WithPriority]); its deadline becomes
// the request's deadline in rlc (bounding queueing and every retry), and its
// cancellation cancels the request. The body is read once, into memory, and every
// attempt (rlc retries idempotent requests, and POSTs with an Idempotency-Key)
// sends those same bytes. A URL without a host is a path joined to the client's
// BaseURL. The response is a complete *http.Response (StatusCode, Status, Header,
// Body, ContentLength, Request) whose body is already in memory; HTTP statuses of
// any kind are responses, not errors. Errors are the library's *Error, or the
// context's error when the context ended first.
//
// req.Host is not used: the request goes to the URL's host. Redirects are the
// client's: rlc follows them by Config.Redirects (each hop rate limited), so an
// http.Client's CheckRedirect sees only a 3xx that rlc hands back (with
// Redirects.Max 0, all of them). rlc keeps no cookies: an http.Client's Jar works
// as usual on what rlc returns.
func (c *Client) Transport() http.RoundTripper {
	return &transport{client: c}
}

type transport struct {
	client *Client
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	// A RoundTripper must close the request body, whatever happens.
	body, err := readBody(req)
	if err != nil {
		return nil, err
	}
	if req.URL == nil {
		return nil, newError(ErrInvalidArgument, "the request has no URL")
	}
	ctx := req.Context()
	r := &Request{Method: req.Method, Header: req.Header.Clone(), Body: body}
	if r.Header == nil {
		r.Header = make(http.Header)
	}
	u := req.URL
	if u.User != nil {
		// As net/http's Transport does: credentials in the URL become Basic auth
		// (unless the request has its own Authorization) and leave the URL.
		if r.Header.Get("Authorization") == "" {
			password, _ := u.User.Password()
			basic := &http.Request{Header: make(http.Header)}
			basic.SetBasicAuth(u.User.Username(), password)
			r.Header.Set("Authorization", basic.Header.Get("Authorization"))
		}
		stripped := *u
		stripped.User = nil
		u = &stripped
	}
	if u.Host == "" {
		r.Path = u.RequestURI()
	} else {
		r.Path = u.String()
	}
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		if left <= 0 {
			return nil, context.DeadlineExceeded
		}
		r.Deadline = left
	}
	resp, err := t.client.Do(ctx, r, priorityFrom(ctx))
	if err != nil {
		// rlc's own deadline starts at submit from the time left on the context, so
		// it ends no earlier than the context: report what net/http users test for.
		// (Its timer may be seen before the context's own timer has run, hence the
		// clock check beside ctx.Err.)
		if errors.Is(err, ErrTimeout) {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
				return nil, context.DeadlineExceeded
			}
		}
		return nil, err
	}
	return httpResponse(req, resp), nil
}

// readBody reads and closes req.Body; nil for no body.
func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, nil
	}
	defer req.Body.Close()
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	return body, nil
}

// httpResponse turns an rlc Response into what net/http's own Transport returns.
func httpResponse(req *http.Request, r *Response) *http.Response {
	text := http.StatusText(r.Status)
	status := strconv.Itoa(r.Status)
	if text != "" {
		status += " " + text
	}
	length := int64(len(r.Body))
	if req.Method == http.MethodHead {
		// A HEAD response has no body; its length is what the server announced.
		length = -1
		if n, err := strconv.ParseInt(r.Header.Get("Content-Length"), 10, 64); err == nil && n >= 0 {
			length = n
		}
	}
	return &http.Response{
		Status:        status,
		StatusCode:    r.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        r.Header,
		Body:          io.NopCloser(bytes.NewReader(r.Body)),
		ContentLength: length,
		Request:       req,
	}
}
