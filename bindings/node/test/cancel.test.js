'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Client, RlcError } = require('..');
const { startServer, within, until } = require('../testing/helpers');

const T = { timeout: 60_000 };
let server;

before(async () => {
  server = await startServer();
});
after(async () => {
  await server.close();
});

const arrived = (prefix) => server.arrivals.filter((a) => a.path.startsWith(prefix)).length;

function isAbort(e) {
  assert.ok(e instanceof RlcError, String(e));
  assert.equal(e.name, 'AbortError');
  assert.equal(e.code, 'RLC_E_CANCELLED');
  return true;
}

test('an already-aborted signal rejects at once, without submitting', T, async () => {
  const client = new Client({ baseUrl: server.url });
  try {
    const reason = new Error('not wanted');
    await assert.rejects(client.get('/tag/pre-aborted', { signal: AbortSignal.abort(reason) }), (e) => {
      isAbort(e);
      assert.equal(e.cause, reason);
      return true;
    });
    assert.equal(client.metrics().submitted, 0);
    assert.equal(arrived('/tag/pre-aborted'), 0);
  } finally {
    await within(10_000, client.close());
  }
});

test('aborting a queued request cancels it (rlc_cancel): it never reaches the server', T, async () => {
  const client = new Client({
    baseUrl: server.url,
    rateLimit: { max: 1, windowMs: 60_000 },
    burst: 1,
    workers: 1,
  });
  try {
    assert.equal((await within(10_000, client.get('/tag/q-first'))).status, 200);
    const ac = new AbortController();
    const queued = client.get('/tag/q-never', { signal: ac.signal });
    const other = client.get('/tag/q-other');
    const otherDone = assert.rejects(other, { code: 'RLC_E_SHUTDOWN' });
    await new Promise((r) => setTimeout(r, 50));
    ac.abort();
    await assert.rejects(within(5_000, queued), isAbort);
    await until(() => client.metrics().cancelled === 1, 10_000, 'the library cancelled it');
    assert.equal(arrived('/tag/q-never'), 0);
    // Aborting after the fact changes nothing; the other request is still queued.
    ac.abort();
    assert.equal(client.metrics().queueDepth >= 1, true);
    await within(15_000, client.close());
    await otherDone;
  } finally {
    await within(15_000, client.close());
  }
});

test('aborting an in-flight request rejects promptly', T, async () => {
  const client = new Client({ baseUrl: server.url, retry: false });
  try {
    const ac = new AbortController();
    const p = client.get('/slow/abort-inflight?ms=1500', { signal: ac.signal });
    await until(() => client.metrics().inFlight === 1, 10_000, 'the request is in flight');
    const t0 = Date.now();
    ac.abort();
    await assert.rejects(within(1_000, p), isAbort);
    assert.ok(Date.now() - t0 < 1_000);
    // The library still completes it (RLC_E_CANCELLED when the attempt ends).
    await until(() => client.metrics().inFlight === 0, 10_000, 'the attempt ended');
    // The client is still usable.
    assert.equal((await within(10_000, client.get('/hello'))).status, 200);
  } finally {
    await within(15_000, client.close());
  }
});

test('1,000 concurrent requests all resolve', T, async () => {
  const client = new Client({ baseUrl: server.url, workers: 8 });
  try {
    const n = 1000;
    const ps = [];
    for (let i = 0; i < n; i++) ps.push(client.get(`/tag/c${i}`, { priority: i % 7 }));
    const all = await within(50_000, Promise.all(ps));
    assert.equal(all.length, n);
    all.forEach((r, i) => {
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), `c${i}`);
    });
    const m = client.metrics();
    assert.equal(m.submitted, n);
    assert.equal(m.succeeded, n);
  } finally {
    await within(15_000, client.close());
  }
});

test('close() with requests pending settles every promise and does not hang', T, async () => {
  const client = new Client({
    baseUrl: server.url,
    rateLimit: { max: 1, windowMs: 200 },
    burst: 1,
    workers: 1,
  });
  const settled = [];
  const ps = [];
  const track = (p, i) => {
    ps.push(p);
    p.then(
      (r) => (settled[i] = r.status),
      (e) => (settled[i] = e.code)
    );
  };
  track(client.get('/slow/close-inflight?ms=500'), 0); // in flight when close() is called
  for (let i = 1; i <= 20; i++) track(client.get(`/tag/close-${i}`), i);
  await until(() => arrived('/slow/close-inflight') >= 1, 10_000, 'the slow request is in flight');

  const closing = client.close();
  assert.equal(client.close(), closing, 'close() is idempotent');
  assert.equal(client.closed, true);
  await within(20_000, closing, 'close()');
  await new Promise((r) => setImmediate(r));

  assert.equal(settled.filter((s) => s !== undefined).length, 21, JSON.stringify(settled));
  assert.equal(settled[0], 200, 'the request in flight finished');
  assert.ok(settled.slice(1).every((s) => s === 200 || s === 'RLC_E_SHUTDOWN'), JSON.stringify(settled));
  assert.ok(settled.includes('RLC_E_SHUTDOWN'));

  await assert.rejects(client.get('/hello'), { code: 'RLC_E_SHUTDOWN' });
});

test('close() from a completion handler, and many clients in a row', T, async () => {
  for (let i = 0; i < 20; i++) {
    const client = new Client({ baseUrl: server.url, workers: 2 });
    const res = await within(
      10_000,
      client.get('/hello').then(async (r) => {
        await client.close();
        return r;
      })
    );
    assert.equal(res.status, 200);
  }
});
