package rlc

/*
#include <stdlib.h>
#include "rlc.h"
*/
import "C"

import "unsafe"

// Redis shares a client's rate limits through Redis: their state lives under Key,
// and each decision is one atomic Lua step on Redis's own clock, so every client
// on the same Redis and Key, in any process or host, takes from one limit. A lease
// thread takes tokens in batches when demand is high (one at a time when low); the
// shared rate may exceed the limit by at most MaxLease per client in any window. A
// pause a server asks for (429, Retry-After, RateLimit headers) is shared too.
// NewClient fails with ErrRedis when Redis refuses (wrong password, no such
// database); an unreachable Redis does not fail it: Failure applies until Redis is
// back. No message ever holds the password.
type Redis struct {
	// URL is redis://[user:password@]host[:port][/db], rediss:// for TLS.
	URL string
	// Key names the shared limit (1 to 256 bytes, no control character).
	Key string
	// Failure is what the client does while Redis is away (RedisFailLocal by default).
	Failure RedisFailure
	// LocalShare is the percentage of the rate (1 to 100) that RedisFailLocal allows;
	// 0 means 100 / the clients seen on the key.
	LocalShare int
	// MaxLease is the most tokens taken per round trip; 0 means 5 % of the rate per
	// second, from 1 to 64.
	MaxLease int
}

// RedisFailure is what a client does while its shared limit's Redis is away.
type RedisFailure int

const (
	// RedisFailLocal: a local limiter at a share of the rate (Redis.LocalShare)
	// until Redis is back. The default.
	RedisFailLocal RedisFailure = iota
	// RedisFailClosed: requests wait for Redis; those with a deadline time out.
	RedisFailClosed
	// RedisFailOpen: requests go at this client's own full rate, unshared.
	RedisFailOpen
)

// RedisState says whether a client is on Redis.
type RedisState int

const (
	// RedisOff: no shared limit.
	RedisOff RedisState = C.RLC_REDIS_OFF
	// RedisConnected: the limit is shared.
	RedisConnected RedisState = C.RLC_REDIS_CONNECTED
	// RedisDisconnected: Redis is away; the failure policy applies while the client
	// reconnects (with backoff, up to every 500 ms).
	RedisDisconnected RedisState = C.RLC_REDIS_DISCONNECTED
)

// RedisStatus is the shared limit's state and counters.
type RedisStatus struct {
	State RedisState
	// RoundTrips counts the calls made to Redis.
	RoundTrips uint64
	// DownMillis is the time spent without Redis, the current outage included.
	DownMillis uint64
	// TokensLeased counts the tokens Redis granted.
	TokensLeased uint64
	// Clients is how many clients were seen on the key in the last ten seconds.
	Clients uint64
}

// applyRedis sets the shared limit, if there is one.
func (cfg *Config) applyRedis(c *C.rlc_config) error {
	r := cfg.Redis
	if r == nil {
		return nil
	}
	url, key := C.CString(r.URL), C.CString(r.Key)
	defer C.free(unsafe.Pointer(url))
	defer C.free(unsafe.Pointer(key))
	if err := check(C.rlc_config_set_redis(c, url, key)); err != nil {
		return err
	}
	policy := map[RedisFailure]C.uint32_t{
		RedisFailLocal:  C.RLC_REDIS_FAIL_LOCAL,
		RedisFailClosed: C.RLC_REDIS_FAIL_CLOSED,
		RedisFailOpen:   C.RLC_REDIS_FAIL_OPEN,
	}
	p, ok := policy[r.Failure]
	if !ok {
		return newError(ErrInvalidArgument, "Redis.Failure %d is no RedisFailure", r.Failure)
	}
	if err := check(C.rlc_config_set_redis_failure(c, p)); err != nil {
		return err
	}
	if r.LocalShare != 0 {
		share, err := u32("Redis.LocalShare", r.LocalShare)
		if err != nil {
			return err
		}
		if err := check(C.rlc_config_set_redis_local_share(c, share)); err != nil {
			return err
		}
	}
	if r.MaxLease != 0 {
		lease, err := u32("Redis.MaxLease", r.MaxLease)
		if err != nil {
			return err
		}
		if err := check(C.rlc_config_set_redis_max_lease(c, lease)); err != nil {
			return err
		}
	}
	return nil
}

// RedisStatus returns the shared limit's state and counters (State RedisOff
// without one).
func (c *Client) RedisStatus() (RedisStatus, error) {
	var v [5]C.uint64_t
	err := call(func() error {
		c.mu.RLock()
		defer c.mu.RUnlock()
		if c.ptr == nil {
			return errClosed()
		}
		metrics := [5]C.uint32_t{
			C.RLC_METRIC_REDIS_STATE, C.RLC_METRIC_REDIS_ROUND_TRIPS, C.RLC_METRIC_REDIS_DOWN_MS,
			C.RLC_METRIC_REDIS_TOKENS_LEASED, C.RLC_METRIC_REDIS_CLIENTS,
		}
		for i, m := range metrics {
			if err := check(C.rlc_client_metric(c.ptr, m, &v[i])); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return RedisStatus{}, err
	}
	return RedisStatus{
		State:        RedisState(v[0]),
		RoundTrips:   uint64(v[1]),
		DownMillis:   uint64(v[2]),
		TokensLeased: uint64(v[3]),
		Clients:      uint64(v[4]),
	}, nil
}
