// Type definitions for the Node binding of rlc.

import { EventEmitter } from 'node:events';

/** The names of rlc_result (include/rlc.h) other than RLC_OK. */
export type RlcErrorCode =
  | 'RLC_E_INVALID_ARGUMENT'
  | 'RLC_E_QUEUE_FULL'
  | 'RLC_E_CIRCUIT_OPEN'
  | 'RLC_E_TIMEOUT'
  | 'RLC_E_CONNECT'
  | 'RLC_E_TLS'
  | 'RLC_E_IO'
  | 'RLC_E_BODY_TOO_LARGE'
  | 'RLC_E_CANCELLED'
  | 'RLC_E_SHUTDOWN'
  | 'RLC_E_UNKNOWN_REQUEST'
  | 'RLC_E_INVALID_STATE'
  | 'RLC_E_PANIC'
  | 'RLC_E_REDIRECT'
  | 'RLC_E_GRAPHQL'
  | 'RLC_E_REDIS';

/**
 * An error reported by librlc, with the library's message. A request aborted through
 * its AbortSignal rejects with code 'RLC_E_CANCELLED' and name 'AbortError'.
 */
export class RlcError extends Error {
  readonly code: RlcErrorCode | string;
  /** The numeric rlc_result. */
  readonly result: number | undefined;
  /** For a request that failed: how many attempts reached the network. */
  attempts?: number;
}

export interface RateLimit {
  /** Requests allowed per window. */
  max: number;
  /** The window, in milliseconds. */
  windowMs: number;
  /** Bucket capacity (default: max). */
  burst?: number;
}

export type HeadersInit =
  | Record<string, string | number | ReadonlyArray<string | number>>
  | Iterable<readonly [string, string | number]>;

export interface ClientOptions {
  /** Prefix for relative request paths, e.g. 'https://api.example.com/v1'. */
  baseUrl?: string | URL;
  /** A token bucket; several (an array) are stacked: a request goes when all allow it. No limit by default. */
  rateLimit?: RateLimit | RateLimit[];
  /** Bucket capacity of the (first) rate limit (default: its max). */
  burst?: number;
  /** Strict sliding window for the first rate limit: no window ever holds more than max sends. */
  strict?: boolean;
  /** Retries of transient failures (transport errors, timeouts, 429, 502, 503, 504); false turns them off. */
  retry?: { maxRetries?: number; baseDelayMs?: number; maxDelayMs?: number } | false;
  /** Circuit breaker: opens after `threshold` consecutive failures, probes again after `recoveryTimeoutMs`. */
  breaker?: { threshold?: number; recoveryTimeoutMs?: number };
  /** Queued requests at most; a request past it rejects with RLC_E_QUEUE_FULL (default 10,000). */
  maxQueueSize?: number;
  /** Worker threads = requests in flight at most (default 4). */
  workers?: number;
  /** Timeout of each attempt, in milliseconds (default 30,000). */
  timeoutMs?: number;
  /** Headers sent with every request. */
  headers?: HeadersInit;
  /** Cap on a response body, in bytes (default 16 MiB). */
  maxResponseBytes?: number;
  /** User-Agent when a request sets none (default "rlc/<version>"). */
  userAgent?: string;
  /** The `client` label of every sample in `metricsPrometheus()` (default "default"): 1 to 128 bytes, no control character. */
  name?: string;
  /** A PEM file of CA certificates to trust instead of the built-in roots (TLS is always verified). */
  caBundle?: string;
  /**
   * How redirects are followed: each hop takes a token; a hop to another origin drops
   * Authorization, Cookie, Proxy-Authorization and `sensitiveHeaders`; 303 (and
   * 301/302 after a POST) become a GET without a body. A loop or more than `max` hops
   * reject with RLC_E_REDIRECT. Default `{max: 10, allowHttpsToHttp: false}`;
   * `max: 0` resolves with the 3xx response itself.
   */
  redirects?: { max?: number; allowHttpsToHttp?: boolean };
  /** Headers dropped on a redirect to another origin, beside the standard credentials (e.g. 'X-Api-Key'). */
  sensitiveHeaders?: string[];
  /** The longest pause a server's Retry-After or rate-limit headers may impose (default 300000). */
  maxServerPauseMs?: number;
  /**
   * Bounds retries: over any ten seconds at most `percent` % of the first attempts plus
   * `minPerSecond` per second (default `{percent: 20, minPerSecond: 10}`; a missing
   * field keeps its default). `{percent: 0, minPerSecond: 0}` turns retries off. A retry
   * the budget refuses resolves with the last response (metrics().retriesRefusedByBudget).
   */
  retryBudget?: { percent?: number; minPerSecond?: number };
  /** The HTTP statuses retried, instead of 429, 502, 503 and 504 (`[]`: none). Each within 100..599. */
  retryOnStatus?: number[];
  /**
   * Finds a limit the server does not publish: a 429 (or a 503 with Retry-After) without
   * quota headers cuts the rate limit to three quarters, quiet seconds climb back toward
   * the configured `rateLimit`, which is the ceiling and so required. metrics().rateLimit
   * shows the rate in force.
   */
  adaptive?: boolean;
  /**
   * A limit counted in points (a GraphQL API's cost budget): a bucket of `points`
   * refilled at `points` per `windowMs` (Shopify's 1,000 restored at 50/s is
   * {points: 1000, windowMs: 20000}; GitHub's is {points: 5000, windowMs: 3600000}).
   * client.graphql() takes each query's cost from it and corrects the charge from
   * what the server reports. An array stacks several.
   */
  costLimit?: { points: number; windowMs: number } | Array<{ points: number; windowMs: number }>;
  /**
   * The persistent queue: an SQLite file that keeps every accepted request until its
   * promise settles. A request resolves only once it is on disk, and after a crash the
   * next process's `client.recover()` finishes what is left. At least once: a request
   * in flight at the crash is sent again, with the same Idempotency-Key header (each
   * journaled request gets one unless it has its own). The constructor throws an
   * RlcError RLC_E_JOURNAL when the file is locked by another live client, corrupt,
   * from a newer rlc, read-only, or not rlc's (it is never overwritten).
   */
  journal?: string;
  /**
   * Shares the rate limits with every client on the same Redis and key, in any process
   * or host. The constructor throws RLC_E_REDIS when Redis refuses (wrong password, no
   * such database); an unreachable Redis does not throw: `failure` applies until it is
   * back. The shared rate may exceed the limit by at most `maxLease` per client in any
   * window. No message ever holds the password.
   */
  redis?: RedisOptions;
}

export interface RedisOptions {
  /** `redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS. */
  url: string;
  /** Names the shared limit: 1 to 256 bytes, no control character. */
  key: string;
  /** While Redis is away: 'local' (default: a share of the rate), 'closed' (wait) or 'open' (own full rate). */
  failure?: 'closed' | 'local' | 'open';
  /** The share of the rate, 1 to 100 %, that 'local' allows (default: 100 / the clients seen on the key). */
  localShare?: number;
  /** The most tokens taken per round trip to Redis (default: 5 % of the rate per second, 1 to 64). */
  maxLease?: number;
}

export interface RedisStatus {
  state: 'off' | 'connected' | 'disconnected';
  /** Calls made to Redis. */
  roundTrips: number;
  /** Milliseconds spent without Redis, the current outage included. */
  downMs: number;
  /** Tokens granted by Redis. */
  tokensLeased: number;
  /** Clients seen on the key in the last ten seconds. */
  clients: number;
}

export interface RequestOptions {
  /** Higher goes first (100 before 1); FIFO among equals. Default 0. */
  priority?: number;
  headers?: HeadersInit;
  body?: string | Buffer | Uint8Array | ArrayBuffer | null;
  /**
   * A value sent as JSON (JSON.stringify), with Content-Type: application/json unless
   * `headers` sets one. Not together with `body`.
   */
  json?: unknown;
  /** Timeout of each attempt of this request, in milliseconds. */
  timeoutMs?: number;
  /** Bound on the whole request (queueing and every retry), in milliseconds. */
  deadlineMs?: number;
  /** Retry this request even though its method is not idempotent (e.g. POST). */
  retryNonIdempotent?: boolean;
  /** Cancels the request: it rejects at once with an AbortError-like RlcError. */
  signal?: AbortSignal;
  /**
   * Tokens this request takes from every rate limit (default 1): a batch call the API
   * counts as ten costs 10. A cost above the smallest burst rejects with RLC_E_INVALID_ARGUMENT.
   */
  cost?: number;
  /** How many times this request is retried, instead of the client's retry.maxRetries (0: never). */
  maxRetries?: number;
  /** The application's own name for the request, kept in the journal and handed back as `response.tag` and by `recover()`. At most 4 KiB. */
  tag?: string;
}

export interface Response {
  /** The HTTP status, whatever it is (4xx and 5xx resolve too). */
  status: number;
  /** Lower-case names; repeated headers joined with ', ' (set-cookie: an array). */
  headers: Record<string, string> & { 'set-cookie'?: string[] };
  body: Buffer;
  /** How many attempts it took (1 when the first one answered). */
  attempts: number;
  /** The request's tag ('' when it had none). */
  tag: string;
  /** Whether the status is 2xx. */
  readonly ok: boolean;
  /** The body decoded as UTF-8. */
  text(): string;
  /** The body parsed as JSON (throws a SyntaxError when it is not JSON). */
  json<T = any>(): T;
  /** A GraphQL answer's `errors` array; null for other requests or when it had none. */
  graphqlErrors: GraphQLErrorEntry[] | null;
}

/** One entry of a GraphQL answer's `errors`. */
export interface GraphQLErrorEntry {
  message: string;
  locations?: Array<{ line: number; column: number }>;
  path?: Array<string | number>;
  extensions?: Record<string, unknown>;
  [key: string]: unknown;
}

/** Options of client.graphql(). */
export interface GraphQLOptions {
  /** Which operation of the document runs (required when it holds several). */
  operationName?: string;
  /** The query's cost in points; without it, GitHub's rule estimates it from the query. */
  cost?: number;
  /** Where the endpoint is: a path joined to baseUrl, or a URL (default '/graphql'). */
  path?: string;
  priority?: number;
  headers?: HeadersInit;
  timeoutMs?: number;
  deadlineMs?: number;
  /** Retry a mutation after a transport failure too (a query always is; THROTTLED always is). */
  retryNonIdempotent?: boolean;
  maxRetries?: number;
  signal?: AbortSignal;
}

/**
 * A GraphQL answer with errors, or one that was not GraphQL at all (then `errors` is
 * empty): `errors` as the server sent them, `data` whatever came beside them.
 */
export class GraphQLError extends Error {
  readonly name: 'GraphQLError';
  readonly errors: GraphQLErrorEntry[];
  readonly data: unknown;
  readonly response: Response;
}

/** fetch's init, plus the request's priority in rlc. */
export interface FetchInit extends RequestInit {
  /** Higher goes first (100 before 1); FIFO among equals. Default 0. */
  priority?: number;
}

export interface Metrics {
  submitted: number;
  succeeded: number;
  http4xx: number;
  http5xx: number;
  timeouts: number;
  connectErrors: number;
  circuitOpen: number;
  queueFull: number;
  cancelled: number;
  shutdown: number;
  retries: number;
  queueDepth: number;
  inFlight: number;
  breakerState: 'closed' | 'open' | 'half_open';
  latencyP50Us: number;
  latencyP90Us: number;
  latencyP99Us: number;
  otherErrors: number;
  breakerTransitions: number;
  serverPauses: number;
  pausedMs: number;
  /** Infinity without a rate limit. */
  tokensAvailable: number;
  queueWaitP50Us: number;
  queueWaitP90Us: number;
  queueWaitP99Us: number;
  attemptP50Us: number;
  attemptP90Us: number;
  attemptP99Us: number;
  /** Server pauses and retry hints cut to maxServerPauseMs. */
  serverPausesCapped: number;
  /** Redirect hops followed (each took a token). */
  redirects: number;
  /** Attempts that panicked inside rlc (a bug), rejected with RLC_E_PANIC. */
  workerPanics: number;
  /** Retries the retry budget refused. */
  retriesRefusedByBudget: number;
  /** The rate limit in force, in requests per its window (0 without one): where adaptive limiting or setRateLimit put it. */
  rateLimit: number;
  /** GraphQL answers that said THROTTLED (each retried like a 429). */
  graphqlThrottled: number;
  /** Points GraphQL servers reported as the actual cost of completed queries. */
  graphqlPoints: number;
  /** GraphQL answers carrying errors other than THROTTLED. */
  graphqlErrors: number;
}

/**
 * A client is an EventEmitter of its events (Bottleneck-style names), emitted on the
 * main thread in order with the settling of its requests: see ClientEvents.
 */
export class Client extends EventEmitter {
  /** Throws TypeError for options of the wrong type, RlcError for values the library refuses. */
  constructor(options?: ClientOptions);
  on<K extends keyof ClientEvents>(event: K, listener: (...args: ClientEvents[K]) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once<K extends keyof ClientEvents>(event: K, listener: (...args: ClientEvents[K]) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
  off<K extends keyof ClientEvents>(event: K, listener: (...args: ClientEvents[K]) => void): this;
  off(event: string | symbol, listener: (...args: any[]) => void): this;
  addListener<K extends keyof ClientEvents>(event: K, listener: (...args: ClientEvents[K]) => void): this;
  addListener(event: string | symbol, listener: (...args: any[]) => void): this;
  removeListener<K extends keyof ClientEvents>(event: K, listener: (...args: ClientEvents[K]) => void): this;
  removeListener(event: string | symbol, listener: (...args: any[]) => void): this;
  /** Resolves when no request of this client is pending (at once when none is). */
  onIdle(): Promise<void>;
  request(method: string, path: string | URL, options?: RequestOptions): Promise<Response>;
  /**
   * fetch() over this client: takes what the global fetch takes plus `init.priority`
   * (a path starting with '/' is joined to baseUrl) and resolves with a WHATWG
   * Response. Rejects with `signal.reason` on abort, and with TypeError('fetch failed')
   * whose `cause` is the RlcError when no response came.
   */
  fetch(input: string | URL | globalThis.Request, init?: FetchInit): Promise<globalThis.Response>;
  get(path: string | URL, options?: RequestOptions): Promise<Response>;
  head(path: string | URL, options?: RequestOptions): Promise<Response>;
  post(path: string | URL, options?: RequestOptions): Promise<Response>;
  put(path: string | URL, options?: RequestOptions): Promise<Response>;
  patch(path: string | URL, options?: RequestOptions): Promise<Response>;
  delete(path: string | URL, options?: RequestOptions): Promise<Response>;
  options(path: string | URL, options?: RequestOptions): Promise<Response>;
  /**
   * Runs a GraphQL operation and resolves with its `data`. Rejects with a GraphQLError
   * carrying `errors` when the answer has any, an RlcError when no answer came, and
   * at once with RlcError RLC_E_GRAPHQL for a query that does not parse. THROTTLED
   * answers are retried, never seen.
   */
  graphql<T = any>(query: string, variables?: Record<string, unknown> | null, options?: GraphQLOptions): Promise<T>;
  metrics(): Metrics;
  /**
   * Queues every request the journal holds from an earlier process and resolves once
   * each has completed, with its tag and its response or error (RLC_E_TIMEOUT, unsent,
   * for a deadline that passed while no process ran). Only the first call finds
   * anything. Rejects with RLC_E_INVALID_STATE without a journal.
   */
  recover(options?: { priority?: number }): Promise<Recovered[]>;
  /**
   * Changes the rate limit of the running client at once: at most `max` requests per
   * `windowMs`, with a burst of `max`. The tokens held carry over (none lost, none
   * invented) and waiting requests see the new rate at once; on an adaptive client it
   * is the new ceiling. RlcError
   * RLC_E_INVALID_ARGUMENT for a zero max or window; RLC_E_SHUTDOWN once closed.
   */
  setRateLimit(limit: { max: number; windowMs: number }): void;
  /** The shared limit's state and counters (state 'off' without the `redis` option). */
  redisStatus(): RedisStatus;
  /** The metrics in the Prometheus text exposition format, every sample labelled `client` with the `name` option. */
  metricsPrometheus(): string;
  readonly closed: boolean;
  /** Completes queued requests with RLC_E_SHUTDOWN, waits for those in flight, frees the client. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** One request recovered from the journal: its tag, and its response or why none came. */
export interface Recovered {
  tag: string;
  response: Response | null;
  error: RlcError | null;
}

/** The version of the loaded librlc. */
export function version(): string;
/** Where librlc.so is loaded from (RLC_LIBRARY_PATH; in a checkout of rlc, ../../target/release; prebuilds/<platform>/; next to index.js), or null. */
export function libraryPath(): string | null;
export const RESULT_NAMES: readonly string[];

/** A failed attempt will be retried. */
export interface RetryEvent {
  /** The request's id. */
  id: number;
  /** The attempt that failed, 1 for the first. */
  attempt: number;
  /** The wait before the next attempt. */
  delayMs: number;
  /** The HTTP status of the failed attempt, 0 when no response came. */
  status: number;
  /** Why no response came ('RLC_E_TIMEOUT', 'RLC_E_CONNECT', ...); null when one did. */
  reason: RlcErrorCode | null;
}

export type BreakerStateName = 'closed' | 'open' | 'half_open';

/** The circuit breaker changed state. */
export interface BreakerEvent {
  from: BreakerStateName;
  to: BreakerStateName;
}

/** The server asked the whole client to pause. */
export interface PauseEvent {
  /** The pause, after the cap. */
  delayMs: number;
  /** The status of the response that asked. */
  status: number;
  /** The header that asked. */
  header: 'Retry-After' | 'X-RateLimit-Reset' | 'RateLimit-Reset' | 'RateLimit' | string;
  /** The server asked for longer than maxServerPauseMs and the pause was cut. */
  capped: boolean;
}

/** A request was dropped without being sent. */
export interface DroppedEvent {
  /** The request's id; null for one refused at submit (its promise rejected). */
  id: number | null;
  /** 'RLC_E_QUEUE_FULL' or 'RLC_E_CIRCUIT_OPEN' at submit; 'RLC_E_CIRCUIT_OPEN' or 'RLC_E_TIMEOUT' (its deadline passed) in the queue. */
  reason: RlcErrorCode;
}

/** A rate limit changed while the client runs. */
export interface LimitEvent {
  max: number;
  windowMs: number;
}

/** The events of a Client and their listeners' arguments. */
export interface ClientEvents {
  retry: [RetryEvent];
  breaker: [BreakerEvent];
  pause: [PauseEvent];
  dropped: [DroppedEvent];
  limit: [LimitEvent];
  /** The shared limit's Redis was lost (`connected` false: the failure policy applies) or is back. */
  redis: [{ connected: boolean; downMs: number }];
  /** No request is pending any more. */
  idle: [];
}
