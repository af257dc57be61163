'use strict';

// The persistent queue (issue 15) for the Node binding: the `journal` client option,
// the `tag` request option (and `response.tag`), and `await client.recover()`, which
// queues what an earlier process left in the journal and resolves with every outcome,
// each with its tag. index.js hands in its helpers and hooks these in.

/** Client options handled here. */
const CLIENT_OPTIONS = ['journal'];
/** Request options handled here. */
const REQUEST_OPTIONS = ['tag'];

module.exports = function journal({ check, str, int32, isObject, knownKeys, describe, RlcError }) {
  /** The C functions, declared with index.js's `f` (koffi's so.func). */
  function declarations(f) {
    return {
      rlc_config_set_journal: f('int rlc_config_set_journal(rlc_config *cfg, const char *path)'),
      rlc_request_set_tag: f('int rlc_request_set_tag(rlc_request *req, const char *tag)'),
      rlc_response_tag: f('const char *rlc_response_tag(const rlc_response *resp)'),
      rlc_client_recover: f(
        'int rlc_client_recover(rlc_client *client, int32_t priority, rlc_callback *cb, void *user_data, _Out_ size_t *out_count)'
      ),
    };
  }

  /** Checks the `journal` option and plans its setter with `set`. */
  function configSteps(l, o, set) {
    if (o.journal !== undefined) set(l.rlc_config_set_journal, 'journal', str(o.journal, 'journal'));
  }

  /** Checks the `tag` request option; returns what sets it on the rlc_request. */
  function requestSteps(options) {
    const tag = options.tag === undefined ? undefined : str(options.tag, 'tag');
    return (l, req) => {
      if (tag !== undefined) check(l.rlc_request_set_tag(req, tag), 'tag');
    };
  }

  /** The tag a completion carries ('' when none). */
  function tagOf(l, resp) {
    return (resp && l.rlc_response_tag(resp)) || '';
  }

  /**
   * client.recover({priority}): queues the journal's requests from an earlier process
   * through the client's one callback, under a token of their own, and resolves once
   * every one of them has completed. `hooks` are index.js's: `register(token, route)`
   * routes the completions of `token` to `route`, `keepAlive`/`letGo` hold the event
   * loop, `outcome(result, resp)` makes a {response} or {error}.
   */
  function recover(l, state, options, hooks) {
    if (options === undefined) options = {};
    if (!isObject(options)) throw new TypeError(`rlc: recover options must be an object, got ${describe(options)}`);
    knownKeys(options, ['priority'], 'recover');
    const priority = options.priority === undefined ? 0 : int32(options.priority, 'priority');
    if (state.closed) throw new RlcError('RLC_E_SHUTDOWN', 'the client is closed');
    const token = hooks.newToken();
    const results = [];
    let expected = -1; // known once rlc_client_recover has returned
    let resolve;
    const done = new Promise((res) => {
      resolve = res;
    });
    const finishIfDone = () => {
      if (expected >= 0 && results.length === expected) {
        hooks.unregister(token);
        resolve(results);
      }
    };
    hooks.register(token, (result, resp) => {
      results.push({ tag: tagOf(l, resp), ...hooks.outcome(result, resp) });
      hooks.letGo();
      finishIfDone();
    });
    const count = [0];
    const r = l.rlc_client_recover(state.ptr, priority, state.callback, token, count);
    if (r !== 0) {
      hooks.unregister(token);
      check(r, 'recover');
    }
    expected = Number(count[0]);
    // Callbacks reach this thread only after this returns: count them now.
    for (let i = 0; i < expected; i++) hooks.keepAlive();
    finishIfDone();
    return done;
  }

  return { CLIENT_OPTIONS, REQUEST_OPTIONS, declarations, configSteps, requestSteps, tagOf, recover };
};
