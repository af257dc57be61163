'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Client, RlcError } = require('..');
const { startServer, within, until } = require('../testing/helpers');

const T = { timeout: 30_000 };
let server;

before(async () => {
  server = await startServer();
});
after(async () => {
  await server.close();
});

test('higher priority goes first under a slow limit (server-side arrival order)', T, async () => {
  const client = new Client({
    baseUrl: server.url,
    rateLimit: { max: 1, windowMs: 150 },
    burst: 1,
    workers: 1,
    retry: false,
  });
  try {
    // The first takes the only token and the only worker for half a second; once it
    // has reached the server, the rest wait in the queue together.
    const first = client.get('/slow/prio-first?ms=500');
    await until(() => server.arrivals.some((a) => a.path === '/slow/prio-first'), 10_000, 'the first request arrived');
    const specs = [
      ['a', 1],
      ['b', 5],
      ['c', 3],
      ['d', 10],
      ['e', 2],
      ['f', 10],
      ['g', -4],
    ];
    const rest = specs.map(([name, priority]) => client.get(`/tag/prio-${name}`, { priority }));
    const all = await within(20_000, Promise.all([first, ...rest]));
    assert.ok(all.every((r) => r.status === 200));
    const order = server.arrivals.filter((a) => a.path.includes('/prio-')).map((a) => a.path.split('/prio-')[1]);
    // Priority descending, first come first served among equals (d before f).
    assert.deepEqual(order, ['first', 'd', 'f', 'b', 'c', 'e', 'a', 'g']);
    // And the limit held: 7 sends one token (150 ms) apart span at least ~900 ms.
    const times = server.arrivals.filter((a) => a.path.includes('/prio-')).map((a) => a.at);
    assert.ok(times[7] - times[1] >= 700, `the queued sends spanned ${times[7] - times[1]} ms`);
  } finally {
    await within(10_000, client.close());
  }
});

test('a submit past maxQueueSize rejects at once with RLC_E_QUEUE_FULL', T, async () => {
  const client = new Client({
    baseUrl: server.url,
    rateLimit: { max: 1, windowMs: 60_000 },
    burst: 1,
    workers: 1,
    maxQueueSize: 3,
  });
  const outcomes = [];
  let closed = false;
  try {
    const first = client.get('/tag/qf-first');
    const res = await within(10_000, first);
    assert.equal(res.status, 200);
    // No token for a minute: everything else waits, until the queue is full.
    const ps = [];
    for (let i = 0; i < 10; i++) {
      const p = client.get(`/tag/qf-${i}`);
      p.then(
        (r) => outcomes.push(['ok', r.status]),
        (e) => outcomes.push([e.code, e.message])
      );
      ps.push(p);
    }
    const full = await within(
      10_000,
      Promise.allSettled(ps.slice(5)) // the last ones cannot all have fitted
    );
    const refused = full.filter((s) => s.status === 'rejected' && s.reason.code === 'RLC_E_QUEUE_FULL');
    assert.ok(refused.length >= 1, 'some submits are refused while the queue is full');
    assert.ok(refused[0].reason instanceof RlcError);
    assert.ok(refused[0].reason.message.length > 0);
    assert.ok(client.metrics().queueFull >= 1);
    const accepted = 10 - outcomes.filter(([c]) => c === 'RLC_E_QUEUE_FULL').length;
    assert.ok(accepted <= 3 + 1, `at most the queue (+1 waiting for a token) was accepted, got ${accepted}`);

    await within(15_000, client.close());
    closed = true;
    await new Promise((r) => setImmediate(r));
    // Every promise settled: the queued ones with RLC_E_SHUTDOWN.
    assert.equal(outcomes.length, 10);
    assert.ok(outcomes.every(([c]) => c === 'RLC_E_QUEUE_FULL' || c === 'RLC_E_SHUTDOWN'), JSON.stringify(outcomes));
  } finally {
    if (!closed) await within(15_000, client.close());
  }
});

test('the breaker opens after 2 failures and fails fast with RLC_E_CIRCUIT_OPEN', T, async () => {
  const client = new Client({
    baseUrl: server.url,
    retry: false,
    breaker: { threshold: 2, recoveryTimeoutMs: 60_000 },
  });
  try {
    assert.equal((await within(10_000, client.get('/status/500'))).status, 500);
    assert.equal((await within(10_000, client.get('/status/503'))).status, 503);
    const before = server.arrivals.length;
    await assert.rejects(within(10_000, client.get('/hello')), (e) => {
      assert.ok(e instanceof RlcError);
      assert.equal(e.code, 'RLC_E_CIRCUIT_OPEN');
      assert.ok(e.message.length > 0);
      return true;
    });
    assert.equal(server.arrivals.length, before, 'nothing reached the server while open');
    const m = client.metrics();
    assert.equal(m.breakerState, 'open');
    assert.ok(m.circuitOpen >= 1);
  } finally {
    await within(10_000, client.close());
  }
});

test('a flaky route is retried: it takes 3 attempts', T, async () => {
  const client = new Client({
    baseUrl: server.url,
    retry: { maxRetries: 3, baseDelayMs: 10, maxDelayMs: 50 },
    breaker: { threshold: 100 }, // this test fails on purpose more than the default 5 times
  });
  try {
    const res = await within(10_000, client.get('/flaky/get1?fail=2'));
    assert.equal(res.status, 200);
    assert.equal(res.attempts, 3);
    assert.equal(res.body.toString(), 'ok after 3');

    // Out of retries: the last response is the completion.
    const out = await within(10_000, client.get('/flaky/get2?fail=100'));
    assert.equal(out.status, 503);
    assert.equal(out.attempts, 4);

    // POST is not idempotent: no retry unless asked for.
    const post = await within(10_000, client.post('/flaky/post1?fail=2', { body: 'x' }));
    assert.equal(post.status, 503);
    assert.equal(post.attempts, 1);
    const opted = await within(10_000, client.post('/flaky/post2?fail=2', { body: 'x', retryNonIdempotent: true }));
    assert.equal(opted.status, 200);
    assert.equal(opted.attempts, 3);

    assert.ok(client.metrics().retries >= 5);
  } finally {
    await within(10_000, client.close());
  }
});
