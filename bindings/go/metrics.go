package rlc

/*
#include "rlc.h"
*/
import "C"

import (
	"fmt"
	"time"
)

// BreakerState is the circuit breaker's state.
type BreakerState int

const (
	// BreakerClosed: requests flow; consecutive failures are counted.
	BreakerClosed BreakerState = 0
	// BreakerOpen: requests fail fast with ErrCircuitOpen until the recovery timeout.
	BreakerOpen BreakerState = 1
	// BreakerHalfOpen: one probe at a time goes through.
	BreakerHalfOpen BreakerState = 2
)

// Fails to compile when a state differs from the header's.
func _() {
	var x [1]struct{}
	_ = x[BreakerClosed-C.RLC_BREAKER_CLOSED]
	_ = x[BreakerOpen-C.RLC_BREAKER_OPEN]
	_ = x[BreakerHalfOpen-C.RLC_BREAKER_HALF_OPEN]
}

func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half-open"
	}
	return fmt.Sprintf("BreakerState(%d)", int(s))
}

// Metrics is a snapshot of a client's counters (since it started) and gauges (now).
type Metrics struct {
	Submitted     uint64 // requests accepted
	Succeeded     uint64 // completions with a 1xx-3xx response
	HTTP4xx       uint64 // completions with a 4xx response
	HTTP5xx       uint64 // completions with a 5xx response
	Timeouts      uint64 // completions with ErrTimeout
	ConnectErrors uint64 // completions with ErrConnect
	OtherErrors   uint64 // completions with another transport failure
	CircuitOpen   uint64 // requests failed fast by the open breaker
	QueueFull     uint64 // submits refused with ErrQueueFull
	Cancelled     uint64 // completions with ErrCancelled
	Shutdown      uint64 // completions with ErrShutdown
	Retries       uint64 // retry attempts scheduled

	QueueDepth         uint64       // requests waiting now (ready, or waiting to retry)
	InFlight           uint64       // requests on the network now
	BreakerState       BreakerState // the breaker's state now
	BreakerTransitions uint64       // breaker state changes so far
	ServerPauses       uint64       // times the server's Retry-After paused the client
	Paused             time.Duration
	// TokensAvailable is the whole tokens in the tightest rate limit
	// (math.MaxUint64 without a limit).
	TokensAvailable uint64

	// Submit-to-completion latency percentiles.
	LatencyP50, LatencyP90, LatencyP99 time.Duration
	// Submit-to-first-send wait percentiles.
	QueueWaitP50, QueueWaitP90, QueueWaitP99 time.Duration
	// Single-attempt latency percentiles.
	AttemptP50, AttemptP90, AttemptP99 time.Duration

	ServerPausesCapped uint64 // server pauses and retry hints cut to Config.MaxServerPause
	Redirects          uint64 // redirect hops followed (each took a token)
	WorkerPanics       uint64 // attempts that panicked inside rlc (a bug), failed with ErrPanic
	// RetriesRefusedByBudget counts the retries Config.RetryBudget refused.
	RetriesRefusedByBudget uint64
	// RateLimit is the primary rate limit in force, in requests per its window (0
	// without one): where Config.Adaptive or Client.SetRateLimit has put it.
	RateLimit uint64
}

func micros(v C.uint64_t) time.Duration { return time.Duration(v) * time.Microsecond }

func metricsFromC(m *C.rlc_metrics) Metrics {
	return Metrics{
		Submitted:          uint64(m.submitted),
		Succeeded:          uint64(m.succeeded),
		HTTP4xx:            uint64(m.http_4xx),
		HTTP5xx:            uint64(m.http_5xx),
		Timeouts:           uint64(m.timeouts),
		ConnectErrors:      uint64(m.connect_errors),
		OtherErrors:        uint64(m.other_errors),
		CircuitOpen:        uint64(m.circuit_open),
		QueueFull:          uint64(m.queue_full),
		Cancelled:          uint64(m.cancelled),
		Shutdown:           uint64(m.shutdown),
		Retries:            uint64(m.retries),
		QueueDepth:         uint64(m.queue_depth),
		InFlight:           uint64(m.in_flight),
		BreakerState:       BreakerState(m.breaker_state),
		BreakerTransitions: uint64(m.breaker_transitions),
		ServerPauses:       uint64(m.server_pauses),
		Paused:             time.Duration(m.paused_ms) * time.Millisecond,
		TokensAvailable:    uint64(m.tokens_available),
		LatencyP50:         micros(m.latency_p50_us),
		LatencyP90:         micros(m.latency_p90_us),
		LatencyP99:         micros(m.latency_p99_us),
		QueueWaitP50:       micros(m.queue_wait_p50_us),
		QueueWaitP90:       micros(m.queue_wait_p90_us),
		QueueWaitP99:       micros(m.queue_wait_p99_us),
		AttemptP50:         micros(m.attempt_p50_us),
		AttemptP90:         micros(m.attempt_p90_us),
		AttemptP99:         micros(m.attempt_p99_us),
	}
}

// counters holds the values kept beyond the rlc_metrics struct, read one by one
// with rlc_client_metric.
type counters [5]uint64

// readCounters reads the counters kept beyond the rlc_metrics struct, in the order
// of the rlc_metric enum (see counters.into).
func readCounters(client *C.rlc_client, out *counters) error {
	metrics := [len(counters{})]C.uint32_t{
		C.RLC_METRIC_SERVER_PAUSES_CAPPED, C.RLC_METRIC_REDIRECTS, C.RLC_METRIC_WORKER_PANICS,
		C.RLC_METRIC_RETRIES_REFUSED_BY_BUDGET, C.RLC_METRIC_RATE_LIMIT,
	}
	for i, metric := range metrics {
		var v C.uint64_t
		if err := check(C.rlc_client_metric(client, metric, &v)); err != nil {
			return err
		}
		out[i] = uint64(v)
	}
	return nil
}

// into copies the counters to their fields of m.
func (x *counters) into(m *Metrics) {
	m.ServerPausesCapped, m.Redirects, m.WorkerPanics = x[0], x[1], x[2]
	m.RetriesRefusedByBudget, m.RateLimit = x[3], x[4]
}
