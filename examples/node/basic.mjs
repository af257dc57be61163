// A first rlc program in Node: a rate-limited client, a few prioritised requests,
// error handling, metrics, and a clean close.
//
//   cargo build --release --lib                  # builds target/release/librlc.so
//   (cd bindings/node && npm ci)                 # installs koffi
//   node examples/node/basic.mjs http://127.0.0.1:8080
//
// The base URL comes from argv[2] or RLC_BASE_URL. In your own project, install the
// package (`npm install ./bindings/node`) and import it as 'rlc'; set
// RLC_LIBRARY_PATH if librlc.so is somewhere else.

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Client, RlcError } = require('../../bindings/node'); // in your code: require('rlc')

const baseUrl = process.argv[2] ?? process.env.RLC_BASE_URL;
if (!baseUrl) {
  console.error('usage: node basic.mjs BASE_URL   (or set RLC_BASE_URL)');
  process.exit(2);
}

const client = new Client({
  baseUrl,
  rateLimit: { max: 5, windowMs: 1000 }, // never more than 5 requests per second
  retry: { maxRetries: 3, baseDelayMs: 100, maxDelayMs: 2000 }, // 429/502/503/504, timeouts
  breaker: { threshold: 5, recoveryTimeoutMs: 10_000 }, // stop hammering a server that is down
  timeoutMs: 5000, // per attempt
  headers: { accept: 'application/json' }, // sent with every request
});

try {
  // Requests queue up at once; the limiter sends them in priority order (higher first).
  const [urgent, routine] = await Promise.all([
    client.get('/', { priority: 10 }),
    client.get('/', { priority: 1 }),
  ]);
  // Any HTTP status resolves; look at it yourself.
  console.log('urgent :', urgent.status, `${urgent.body.length} bytes in ${urgent.attempts} attempt(s)`);
  console.log('routine:', routine.status, routine.headers['content-type'] ?? '(no content-type)');

  // A request you may give up on: abort it with an AbortSignal.
  const slow = client.get('/', { signal: AbortSignal.timeout(2000) });
  console.log('with a 2 s budget:', (await slow).status);
} catch (err) {
  // No response at all: err.code says why (RLC_E_TIMEOUT, RLC_E_CONNECT,
  // RLC_E_CIRCUIT_OPEN, RLC_E_QUEUE_FULL, RLC_E_CANCELLED, ...).
  if (err instanceof RlcError) console.error(`request failed: ${err.code}: ${err.message}`);
  else throw err;
  process.exitCode = 1;
} finally {
  const m = client.metrics(); // counters, gauges, latency percentiles
  console.log(`metrics: ${m.submitted} submitted, ${m.succeeded} succeeded, ${m.retries} retries, ` +
    `breaker ${m.breakerState}, p50 latency ${(m.latencyP50Us / 1000).toFixed(1)} ms`);
  // Always close: queued requests settle with RLC_E_SHUTDOWN, in-flight ones finish.
  await client.close();
}
