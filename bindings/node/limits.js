'use strict';

// Limits (issue 12) for the Node binding: weighted requests (`cost`), per-request
// retries (`maxRetries`), the retry budget, the retried statuses, adaptive limiting
// and live rate-limit changes (`client.setRateLimit`). index.js hands in its argument
// checks and hooks these in where it builds configs and requests.

/** Client options handled here. */
const CLIENT_OPTIONS = ['retryBudget', 'retryOnStatus', 'adaptive'];
/** Request options handled here. */
const REQUEST_OPTIONS = ['cost', 'maxRetries'];
/** The library's retry budget (DESIGN.md), used to fill a partly given one. */
const DEFAULT_RETRY_BUDGET = { percent: 20, minPerSecond: 10 };

module.exports = function limits({ check, uint, isObject, knownKeys, describe, RlcError, U32_MAX }) {
  /** The C functions, declared with index.js's `f` (koffi's so.func). */
  function declarations(f) {
    return {
      rlc_config_set_retry_budget: f(
        'int rlc_config_set_retry_budget(rlc_config *cfg, uint32_t percent, uint32_t min_per_second)'
      ),
      rlc_config_set_retry_on_status: f(
        'int rlc_config_set_retry_on_status(rlc_config *cfg, const uint16_t *codes, size_t n)'
      ),
      rlc_config_set_adaptive: f('int rlc_config_set_adaptive(rlc_config *cfg, bool on)'),
      rlc_request_set_cost: f('int rlc_request_set_cost(rlc_request *req, uint32_t tokens)'),
      rlc_request_set_max_retries: f('int rlc_request_set_max_retries(rlc_request *req, uint32_t max_retries)'),
      rlc_client_set_rate_limit: f(
        'int rlc_client_set_rate_limit(rlc_client *client, uint32_t max_requests, uint64_t window_ms)'
      ),
    };
  }

  /** Checks the limit options of a Client and plans their setters with `set`. */
  function configSteps(l, o, set) {
    if (o.retryBudget !== undefined) {
      const b = o.retryBudget;
      if (!isObject(b)) throw new TypeError(`rlc: retryBudget must be {percent, minPerSecond}, got ${describe(b)}`);
      knownKeys(b, ['percent', 'minPerSecond'], 'retryBudget');
      const full = { ...DEFAULT_RETRY_BUDGET, ...b };
      set(
        l.rlc_config_set_retry_budget,
        'retryBudget',
        uint(full.percent, 'retryBudget.percent', U32_MAX),
        uint(full.minPerSecond, 'retryBudget.minPerSecond', U32_MAX)
      );
    }
    if (o.retryOnStatus !== undefined) {
      if (!Array.isArray(o.retryOnStatus)) {
        throw new TypeError(`rlc: retryOnStatus must be an array of HTTP statuses, got ${describe(o.retryOnStatus)}`);
      }
      // Out of 100..=599 the library refuses it (an RlcError); past 16 bits it would wrap.
      const codes = Uint16Array.from(o.retryOnStatus, (c, i) => uint(c, `retryOnStatus[${i}]`, 0xffff));
      set(l.rlc_config_set_retry_on_status, 'retryOnStatus', codes.length ? codes : null, codes.length);
    }
    if (o.adaptive !== undefined) {
      if (typeof o.adaptive !== 'boolean') throw new TypeError(`rlc: adaptive must be a boolean, got ${describe(o.adaptive)}`);
      set(l.rlc_config_set_adaptive, 'adaptive', o.adaptive);
    }
  }

  /**
   * Checks the limit options of a request before anything native exists; returns
   * what sets them on the rlc_request.
   */
  function requestSteps(options) {
    const cost = options.cost === undefined ? undefined : uint(options.cost, 'cost', U32_MAX);
    const maxRetries = options.maxRetries === undefined ? undefined : uint(options.maxRetries, 'maxRetries', U32_MAX);
    return (l, req) => {
      if (cost !== undefined) check(l.rlc_request_set_cost(req, cost), 'cost');
      if (maxRetries !== undefined) check(l.rlc_request_set_max_retries(req, maxRetries), 'maxRetries');
    };
  }

  /** client.setRateLimit({max, windowMs}) on a client's state. */
  function setRateLimit(l, state, limit) {
    if (!isObject(limit)) throw new TypeError(`rlc: setRateLimit takes {max, windowMs}, got ${describe(limit)}`);
    knownKeys(limit, ['max', 'windowMs'], 'setRateLimit');
    const max = uint(limit.max, 'max', U32_MAX);
    const windowMs = uint(limit.windowMs, 'windowMs');
    if (state.closed) throw new RlcError('RLC_E_SHUTDOWN', 'the client is closed');
    check(l.rlc_client_set_rate_limit(state.ptr, max, windowMs), 'setRateLimit');
  }

  return { CLIENT_OPTIONS, REQUEST_OPTIONS, declarations, configSteps, requestSteps, setRateLimit };
};
