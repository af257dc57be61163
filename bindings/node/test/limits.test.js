'use strict';

// Limits (tests/limits.rs) through the Node binding: weighted requests, the retry
// budget against a failing server, the retried statuses and per-request retries, a
// live rate-limit change, and adaptive limiting against a server with a hidden limit.
// Counts and bounds only, with slack; no tight timings.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { Client, RlcError } = require('..');
const { within } = require('../testing/helpers');

const T = { timeout: 60_000 };
let server;
let base;
let received = 0;

before(async () => {
  // The mock API's routes that tests/limits.rs uses: /ok, /down (always 503),
  // /flaky/KEY/N[?status=S] (S, default 503, for the first N calls per key, then 200),
  // /hidden-limit/N (200 for at most N per rolling second, else a bare 429).
  const flaky = new Map();
  let hidden = [];
  server = http.createServer((req, res) => {
    received++;
    const url = new URL(req.url, 'http://x');
    const parts = url.pathname.split('/').filter(Boolean);
    if (parts[0] === 'ok') {
      res.writeHead(200);
      res.end('ok');
    } else if (parts[0] === 'down') {
      res.writeHead(503);
      res.end('down');
    } else if (parts[0] === 'flaky' && parts.length === 3) {
      const n = (flaky.get(parts[1]) || 0) + 1;
      flaky.set(parts[1], n);
      if (n <= Number(parts[2])) res.writeHead(Number(url.searchParams.get('status') || 503));
      else res.writeHead(200);
      res.end();
    } else if (parts[0] === 'hidden-limit' && parts.length === 2) {
      const now = Date.now();
      hidden = hidden.filter((t) => now - t < 1000);
      if (hidden.length < Number(parts[1])) {
        hidden.push(now);
        res.writeHead(200);
      } else {
        res.writeHead(429);
      }
      res.end();
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  server.keepAliveTimeout = 1000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function withClient(options, fn) {
  const client = new Client({ baseUrl: base, ...options });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

const isCode = (code) => (e) => e instanceof RlcError && e.code === code;

test('a weighted request takes its cost from every limit', T, () =>
  withClient({ rateLimit: { max: 10, windowMs: 3_600_000 } }, async (client) => {
    const before = received;
    assert.equal((await client.get('/ok', { cost: 7 })).status, 200);
    assert.equal(client.metrics().tokensAvailable, 3);
    // More than any limit holds can never go: refused at submit, nothing spent.
    await assert.rejects(client.get('/ok', { cost: 11 }), isCode('RLC_E_INVALID_ARGUMENT'));
    await assert.rejects(client.get('/ok', { cost: 0 }), isCode('RLC_E_INVALID_ARGUMENT'));
    await assert.rejects(client.get('/ok', { cost: -1 }), TypeError);
    await assert.rejects(client.get('/ok', { cost: '2' }), TypeError);
    assert.equal(client.metrics().tokensAvailable, 3);
    assert.equal(received - before, 1);
  }));

test('a failing server sees no more retries than the budget allows', T, () =>
  // The breaker would cut this short; the budget alone is under test.
  withClient(
    { retryBudget: { percent: 20, minPerSecond: 0 }, workers: 8, breaker: { threshold: 0 } },
    async (client) => {
      const before = received;
      const n = 200;
      const all = await within(30_000, Promise.all(Array.from({ length: n }, () => client.get('/down'))), 'the requests');
      // A refused retry completes with the last answer.
      assert.ok(all.every((r) => r.status === 503));
      const m = client.metrics();
      // 3 retries each would be 600; the budget allows 20 % of the 200 first attempts.
      assert.ok(m.retries <= 50, `${m.retries} retries`);
      assert.equal(received - before, n + m.retries);
      assert.ok(m.retriesRefusedByBudget >= 100, `${m.retriesRefusedByBudget} refused`);
    }
  ));

test('a zero retry budget turns retries off', T, () =>
  withClient({ retryBudget: { percent: 0, minPerSecond: 0 } }, async (client) => {
    assert.equal((await client.get('/down')).attempts, 1);
    assert.equal(client.metrics().retriesRefusedByBudget, 1);
  }));

test('retried statuses and per-request retries are the caller\'s choice', T, async () => {
  await withClient({ retryOnStatus: [500] }, async (client) => {
    let r = await client.get('/flaky/node-five-hundred/2?status=500');
    assert.deepEqual([r.status, r.attempts], [200, 3]);
    r = await client.get('/flaky/node-not-503/1');
    assert.deepEqual([r.status, r.attempts], [503, 1], '503 is no longer retried');
    r = await client.get('/flaky/node-once/5?status=500', { maxRetries: 1 });
    assert.deepEqual([r.status, r.attempts], [500, 2]);
    r = await client.get('/flaky/node-never/5?status=500', { maxRetries: 0 });
    assert.deepEqual([r.status, r.attempts], [500, 1]);
    await assert.rejects(client.get('/ok', { maxRetries: -1 }), TypeError);
  });
  await withClient({ retryOnStatus: [] }, async (client) => {
    assert.equal((await client.get('/flaky/node-none/1')).attempts, 1);
  });
  assert.throws(() => new Client({ retryOnStatus: [99] }), isCode('RLC_E_INVALID_ARGUMENT'));
  assert.throws(() => new Client({ retryOnStatus: [500, 600] }), isCode('RLC_E_INVALID_ARGUMENT'));
  assert.throws(() => new Client({ retryOnStatus: 500 }), TypeError);
  assert.throws(() => new Client({ retryBudget: { percent: 20, perSecond: 1 } }), TypeError);
  assert.throws(() => new Client({ adaptive: 'yes' }), TypeError);
});

test('a live limit change takes effect at once', T, async () => {
  const client = new Client({ baseUrl: base, rateLimit: { max: 1, windowMs: 3_600_000 }, retry: false });
  try {
    assert.equal(client.metrics().rateLimit, 1);
    await client.get('/ok');
    // The hour's only token is spent: the next two wait until the limit is raised.
    let settled = 0;
    const waiting = [client.get('/ok'), client.get('/ok')].map((p) => p.finally(() => settled++));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(settled, 0, 'a request went without a token');
    client.setRateLimit({ max: 100, windowMs: 1000 });
    for (const r of await within(10_000, Promise.all(waiting), 'the waiting requests')) assert.equal(r.status, 200);
    assert.equal(client.metrics().rateLimit, 100);
    assert.throws(() => client.setRateLimit({ max: 0, windowMs: 1000 }), isCode('RLC_E_INVALID_ARGUMENT'));
    assert.throws(() => client.setRateLimit({ max: 10, windowMs: 0 }), isCode('RLC_E_INVALID_ARGUMENT'));
    assert.throws(() => client.setRateLimit({ max: 10 }), TypeError);
    assert.throws(() => client.setRateLimit({ max: 10, windowMs: 1000, burst: 2 }), TypeError);
  } finally {
    await client.close();
  }
  assert.throws(() => client.setRateLimit({ max: 10, windowMs: 1000 }), isCode('RLC_E_SHUTDOWN'));
});

test('adaptive limiting finds a limit nobody published', T, async () => {
  // 40/s configured; the server takes 20 per rolling second and says nothing.
  await withClient({ rateLimit: { max: 40, windowMs: 1000, burst: 1 }, retry: false, adaptive: true }, async (client) => {
    const all = await within(
      30_000,
      Promise.all(Array.from({ length: 120 }, () => client.get('/hidden-limit/20'))),
      'the requests'
    );
    const throttled = all.filter((r) => r.status === 429).length;
    const { rateLimit } = client.metrics();
    assert.ok(rateLimit < 40 && rateLimit >= 10, `rate limit ${rateLimit}: down from 40, but not to nothing`);
    // A fixed 40/s client would see about half its requests refused.
    assert.ok(throttled <= 40, `${throttled} of 120 throttled`);
  });
  // Adaptive needs a rate limit to start from.
  assert.throws(() => new Client({ baseUrl: base, adaptive: true }), isCode('RLC_E_INVALID_ARGUMENT'));
});
