'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { EventEmitter } = require('node:events');
const { Client } = require('..');
const { startServer, within } = require('../testing/helpers');

const T = { timeout: 30_000 };
let server;

before(async () => {
  server = await startServer();
});
after(async () => {
  await server.close();
});

/** Records every event of `client`, and what the caller adds, in delivery order. */
function watch(client) {
  const log = [];
  for (const name of ['retry', 'breaker', 'pause', 'dropped', 'limit']) {
    client.on(name, (e) => log.push([name, e]));
  }
  return log;
}

test('the client is an EventEmitter; retries come before the completion they lead to', T, async () => {
  const client = new Client({ baseUrl: server.url, retry: { maxRetries: 3, baseDelayMs: 1, maxDelayMs: 5 } });
  try {
    assert.ok(client instanceof EventEmitter);
    const log = watch(client);
    const res = await within(10_000, client.get('/flaky/ev-node?fail=2'));
    log.push(['done', res.status]);
    assert.deepEqual(
      log.map(([name, e]) => (name === 'retry' ? [name, e.attempt, e.status, e.reason] : [name, e])),
      [
        ['retry', 1, 503, null],
        ['retry', 2, 503, null],
        ['done', 200],
      ]
    );
    for (const [, e] of log.slice(0, 2)) {
      assert.equal(typeof e.id, 'number');
      assert.ok(e.id > 0);
      assert.ok(e.delayMs >= 0 && e.delayMs <= 5, `delay ${e.delayMs}`);
    }
  } finally {
    await within(10_000, client.close());
  }
});

test("the breaker's whole round is emitted, with its states as strings", T, async () => {
  const client = new Client({ baseUrl: server.url, retry: false, breaker: { threshold: 1, recoveryTimeoutMs: 50 } });
  const log = watch(client);
  await within(10_000, client.get('/status/500'));
  await assert.rejects(client.get('/hello'), { code: 'RLC_E_CIRCUIT_OPEN' });
  await new Promise((r) => setTimeout(r, 100));
  await within(10_000, client.get('/hello'));
  await within(10_000, client.close());
  assert.deepEqual(log, [
    ['breaker', { from: 'closed', to: 'open' }],
    ['dropped', { id: null, reason: 'RLC_E_CIRCUIT_OPEN' }],
    ['breaker', { from: 'open', to: 'half_open' }],
    ['breaker', { from: 'half_open', to: 'closed' }],
  ]);
});

test('a server pause names its header and says when it was cut', T, async () => {
  const s = http.createServer((req, res) => {
    res.writeHead(429, { 'retry-after': '1' });
    res.end();
  });
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const client = new Client({ baseUrl: `http://127.0.0.1:${s.address().port}`, retry: false, maxServerPauseMs: 100 });
  try {
    const log = watch(client);
    await within(10_000, client.get('/'));
    await within(10_000, client.close());
    assert.deepEqual(log, [['pause', { delayMs: 100, status: 429, header: 'Retry-After', capped: true }]]);
  } finally {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

test('dropped requests say why; onIdle resolves once nothing is pending', T, async () => {
  const client = new Client({ baseUrl: server.url, workers: 1, maxQueueSize: 1 });
  try {
    const log = watch(client);
    let idles = 0;
    client.on('idle', () => idles++);
    await within(1_000, client.onIdle(), 'onIdle with nothing pending');
    const slow = client.get('/slow/busy?ms=300');
    const seen = server.arrivals.length;
    while (!server.arrivals.slice(seen).some((a) => a.path === '/slow/busy')) {
      await new Promise((r) => setTimeout(r, 5));
    }
    const short = client.get('/hello', { deadlineMs: 50 });
    await assert.rejects(client.get('/hello'), { code: 'RLC_E_QUEUE_FULL' });
    let idle = false;
    const whenIdle = client.onIdle().then(() => (idle = true));
    await assert.rejects(short, { code: 'RLC_E_TIMEOUT' });
    assert.equal(idle, false, 'idle while a request was in flight');
    assert.equal((await slow).status, 200);
    await within(5_000, whenIdle, 'onIdle after the last request');
    assert.equal(idles, 1);
    const dropped = log.filter(([name]) => name === 'dropped').map(([, e]) => e);
    assert.equal(dropped.length, 2);
    assert.deepEqual(dropped[0], { id: null, reason: 'RLC_E_QUEUE_FULL' });
    assert.equal(dropped[1].reason, 'RLC_E_TIMEOUT');
    assert.equal(typeof dropped[1].id, 'number');
  } finally {
    await within(10_000, client.close());
  }
});

test('a throwing listener surfaces as an uncaught exception and loses nothing', T, async () => {
  const client = new Client({ baseUrl: server.url, retry: { maxRetries: 1, baseDelayMs: 1 } });
  const caught = [];
  const onUncaught = (err) => caught.push(err.message);
  const previous = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  process.on('uncaughtException', onUncaught);
  try {
    client.on('retry', () => {
      throw new Error("a watcher's bug");
    });
    const res = await within(10_000, client.get('/flaky/ev-throw?fail=1'));
    assert.equal(res.status, 200);
    assert.equal(res.attempts, 2);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(caught, ["a watcher's bug"]);
  } finally {
    process.removeListener('uncaughtException', onUncaught);
    for (const l of previous) process.on('uncaughtException', l);
    await within(10_000, client.close());
  }
});

test('every koffi callback a client registers is unregistered once it is closed', T, async () => {
  const koffi = require('koffi');
  const { register, unregister } = koffi;
  let live = 0;
  koffi.register = (...args) => {
    live++;
    return register(...args);
  };
  koffi.unregister = (cb) => {
    live--;
    return unregister(cb);
  };
  try {
    const clients = [new Client({ workers: 1 }), new Client({ workers: 1 })];
    assert.equal(live, 4, 'one completion and one event callback per client');
    await Promise.all(clients.map((c) => c.close()));
    assert.equal(live, 0);
    assert.throws(() => new Client({ baseUrl: 'not a url' }), { code: 'RLC_E_INVALID_ARGUMENT' });
    assert.equal(live, 0, 'a refused config leaves no callback');
  } finally {
    koffi.register = register;
    koffi.unregister = unregister;
  }
});
