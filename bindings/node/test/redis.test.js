'use strict';

// The shared limit (tests/redis.rs) through the Node binding: two clients on one key
// of a real redis-server that this test starts (on a free port, persistence off), the
// status they report, RLC_E_REDIS for a Redis that refuses, without the password.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { Client, RlcError } = require('..');
const { startRedis } = require('../testing/redis');

const T = { timeout: 60_000 };
let server;
let base;
let redis;

before(async () => {
  server = http.createServer((req, res) => {
    res.writeHead(200);
    res.end('ok');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
  redis = await startRedis();
});

after(async () => {
  if (redis) redis.stop();
  await new Promise((resolve) => server.close(resolve));
});

test('two clients share one limit through Redis', T, async (t) => {
  if (!redis) return t.skip('redis-server is not installed (apt-get install redis-server)');
  const options = {
    baseUrl: base,
    rateLimit: { max: 40, windowMs: 1000 },
    redis: { url: redis.url, key: 'node-test', failure: 'local', localShare: 50, maxLease: 2 },
  };
  const a = new Client(options);
  const b = new Client(options);
  try {
    for (let i = 0; i < 4; i++) {
      assert.equal((await a.get('/ok')).status, 200);
      assert.equal((await b.get('/ok')).status, 200);
    }
    const s = b.redisStatus();
    assert.equal(s.state, 'connected');
    assert.equal(s.clients, 2);
    assert.ok(s.tokensLeased >= 4 && s.roundTrips >= 2, JSON.stringify(s));
    assert.equal(s.downMs, 0);
  } finally {
    await a.close();
    await b.close();
  }
  const plain = new Client({ baseUrl: base });
  assert.equal(plain.redisStatus().state, 'off');
  await plain.close();
});

test('a Redis that refuses is RLC_E_REDIS, said without the password', T, async (t) => {
  if (!redis) return t.skip('redis-server is not installed (apt-get install redis-server)');
  // A wrong password: refused at the start.
  const guarded = await startRedis('the-right-one');
  t.after(() => guarded.stop());
  const url = `redis://:s3cret-node@127.0.0.1:${guarded.port}/0`;
  assert.throws(
    () => new Client({ baseUrl: base, rateLimit: { max: 5, windowMs: 1000 }, redis: { url, key: 'k' } }),
    (e) => e instanceof RlcError && e.code === 'RLC_E_REDIS' && e.result === 19 && !e.message.includes('s3cret-node')
  );
  assert.throws(() => new Client({ redis: { url: redis.url, key: 'k', failure: 'maybe' } }), TypeError);
  assert.throws(
    () => new Client({ redis: { url: 'http://x', key: 'k' } }),
    (e) => e instanceof RlcError && e.code === 'RLC_E_INVALID_ARGUMENT'
  );
});
