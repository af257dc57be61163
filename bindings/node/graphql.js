'use strict';

// GraphQL (issue 17) for the Node binding: client.graphql(query, variables,
// {operationName, cost, ...}) resolves with `data`, or throws a GraphQLError that
// carries the server's `errors`; the `costLimit` client option adds a limit counted
// in points. index.js hands in its helpers and hooks these in.

/** Client options handled here. */
const CLIENT_OPTIONS = ['costLimit'];
/** Options of client.graphql(). */
const GRAPHQL_OPTIONS = [
  'operationName',
  'cost',
  'path',
  'priority',
  'headers',
  'timeoutMs',
  'deadlineMs',
  'retryNonIdempotent',
  'maxRetries',
  'signal',
];
/** rlc_metric numbers of the GraphQL counters. */
const METRICS = { graphqlThrottled: 40, graphqlPoints: 41, graphqlErrors: 42 };

/**
 * A GraphQL answer with errors (HTTP 200 or not), or one that is not GraphQL at all.
 * `errors` is the server's array (empty when the answer had none, e.g. an HTML 502),
 * `data` whatever data came beside them (often null), `response` the whole answer.
 */
class GraphQLError extends Error {
  constructor(errors, data, response) {
    const first = errors.length && errors[0] && typeof errors[0].message === 'string' ? errors[0].message : null;
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
    super(first ? `${first}${more}` : `not a GraphQL answer: HTTP ${response.status}`);
    this.name = 'GraphQLError';
    this.errors = errors;
    this.data = data;
    this.response = response;
  }
}

module.exports = function graphql({ check, uint, isObject, knownKeys, describe, str, RlcError, lastError, U32_MAX, BUILD }) {
  /** The C functions, declared with index.js's `f` (koffi's so.func). */
  function declarations(f) {
    return {
      rlc_graphql_request_new: f(
        'int rlc_graphql_request_new(const char *path_or_url, const char *query, const char *variables_json, const char *operation_name, _Out_ rlc_request **out)'
      ),
      rlc_config_set_cost_limit: f('int rlc_config_set_cost_limit(rlc_config *cfg, uint32_t points, uint64_t window_ms)'),
      rlc_response_graphql_errors: f('const char *rlc_response_graphql_errors(const rlc_response *resp)'),
    };
  }

  /** Checks the `costLimit` option ({points, windowMs} or an array of them). */
  function configSteps(l, o, set) {
    if (o.costLimit === undefined) return;
    const limits = Array.isArray(o.costLimit) ? o.costLimit : [o.costLimit];
    limits.forEach((c, i) => {
      const what = Array.isArray(o.costLimit) ? `costLimit[${i}]` : 'costLimit';
      if (!isObject(c)) throw new TypeError(`rlc: ${what} must be {points, windowMs}, got ${describe(c)}`);
      knownKeys(c, ['points', 'windowMs'], what);
      set(l.rlc_config_set_cost_limit, what, uint(c.points, `${what}.points`, U32_MAX), uint(c.windowMs, `${what}.windowMs`));
    });
  }

  /** Reads a completion's GraphQL errors inside the callback (the response is borrowed). */
  function readErrors(l, resp) {
    const text = l.rlc_response_graphql_errors(resp);
    return text ? JSON.parse(text) : null;
  }

  /** Installs client.graphql(). */
  function install(Client) {
    /**
     * Runs a GraphQL operation (a POST of {query, variables, operationName} to
     * `options.path`, default '/graphql') and resolves with its `data`. Rejects with a
     * GraphQLError carrying `errors` when the answer has any (or is not GraphQL), and
     * with an RlcError when no answer came; a query that does not parse is refused at
     * once (RlcError RLC_E_GRAPHQL). A THROTTLED answer is never seen: it is retried.
     */
    Client.prototype.graphql = async function (query, variables, options = {}) {
      str(query, 'query');
      if (!isObject(options)) throw new TypeError(`rlc: graphql options must be an object, got ${describe(options)}`);
      knownKeys(options, GRAPHQL_OPTIONS, 'graphql');
      let varsJson = null;
      if (variables !== undefined && variables !== null) {
        if (!isObject(variables)) throw new TypeError(`rlc: GraphQL variables must be an object, got ${describe(variables)}`);
        varsJson = JSON.stringify(variables);
      }
      const name = options.operationName === undefined ? null : str(options.operationName, 'operationName');
      const { operationName, path = '/graphql', ...rest } = options;
      const target = str(path, 'path');
      const build = (l) => {
        const out = [null];
        check(l.rlc_graphql_request_new(target, query, varsJson, name, out), 'graphql');
        return out[0];
      };
      const response = await this.request('POST', target, { ...rest, [BUILD]: build });
      const body = response.text();
      let parsed = null;
      try {
        parsed = JSON.parse(body);
      } catch {
        parsed = null;
      }
      const errors = response.graphqlErrors;
      if (errors || !isObject(parsed) || !('data' in parsed)) {
        throw new GraphQLError(errors || [], isObject(parsed) ? parsed.data ?? null : null, response);
      }
      return parsed.data;
    };
  }

  return { CLIENT_OPTIONS, METRICS, GraphQLError, declarations, configSteps, readErrors, install };
};
