'use strict';

// A rate limit shared through Redis (issue 13) for the Node binding: the `redis`
// client option ({url, key, failure, localShare, maxLease}) and client.redisStatus().
// index.js hands in its argument checks and hooks these in where it builds configs.

/** Client options handled here. */
const CLIENT_OPTIONS = ['redis'];
/** `redis.failure` values, as rlc_redis_failure numbers. */
const FAILURE = { closed: 0, local: 1, open: 2 };
/** RLC_METRIC_REDIS_STATE values. */
const STATES = ['off', 'connected', 'disconnected'];
/** RLC_METRIC_REDIS_* numbers, by the name redisStatus() gives them. */
const METRICS = { roundTrips: 51, downMs: 52, tokensLeased: 53, clients: 54 };

module.exports = function redis({ check, uint, str, isObject, knownKeys, describe, RlcError }) {
  /** The C functions, declared with index.js's `f` (koffi's so.func). */
  function declarations(f) {
    return {
      rlc_config_set_redis: f('int rlc_config_set_redis(rlc_config *cfg, const char *url, const char *key)'),
      rlc_config_set_redis_failure: f('int rlc_config_set_redis_failure(rlc_config *cfg, uint32_t policy)'),
      rlc_config_set_redis_local_share: f('int rlc_config_set_redis_local_share(rlc_config *cfg, uint32_t percent)'),
      rlc_config_set_redis_max_lease: f('int rlc_config_set_redis_max_lease(rlc_config *cfg, uint32_t tokens)'),
    };
  }

  /** Checks the `redis` option of a Client and plans its setters with `set`. */
  function configSteps(l, o, set) {
    if (o.redis === undefined) return;
    const r = o.redis;
    if (!isObject(r)) throw new TypeError(`rlc: redis must be {url, key, ...}, got ${describe(r)}`);
    knownKeys(r, ['url', 'key', 'failure', 'localShare', 'maxLease'], 'redis');
    // The URL may hold a password: never describe it in a message.
    if (typeof r.url !== 'string') throw new TypeError('rlc: redis.url must be a string');
    set(l.rlc_config_set_redis, 'redis', r.url, str(r.key, 'redis.key'));
    if (r.failure !== undefined) {
      if (!(r.failure in FAILURE)) {
        throw new TypeError(`rlc: redis.failure must be 'closed', 'local' or 'open', got ${describe(r.failure)}`);
      }
      set(l.rlc_config_set_redis_failure, 'redis.failure', FAILURE[r.failure]);
    }
    if (r.localShare !== undefined) {
      set(l.rlc_config_set_redis_local_share, 'redis.localShare', uint(r.localShare, 'redis.localShare', 100));
    }
    if (r.maxLease !== undefined) {
      set(l.rlc_config_set_redis_max_lease, 'redis.maxLease', uint(r.maxLease, 'redis.maxLease', 0xffffffff));
    }
  }

  /** client.redisStatus() on a client's state. */
  function status(l, state) {
    if (state.closed) throw new RlcError('RLC_E_SHUTDOWN', 'the client is closed');
    const read = (metric) => {
      const value = [0];
      check(l.rlc_client_metric(state.ptr, metric, value), 'rlc_client_metric');
      return Number(value[0]);
    };
    const out = { state: STATES[read(50)] ?? 'unknown' };
    for (const [name, metric] of Object.entries(METRICS)) out[name] = read(metric);
    return out;
  }

  return { CLIENT_OPTIONS, declarations, configSteps, status };
};
