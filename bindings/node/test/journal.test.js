'use strict';

// The persistent queue through the Node binding: a client closed with requests unsent
// leaves them in its journal; the next one's `await client.recover()` finishes them,
// each with its tag. A second live client on the journal, and recover without one,
// are refused.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { Client, RlcError } = require('..');

const T = { timeout: 60_000 };
let server;
let base;
const keys = [];

before(async () => {
  server = http.createServer((req, res) => {
    keys.push(req.headers['idempotency-key']);
    res.writeHead(200);
    res.end('ok');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(() => new Promise((resolve) => server.close(resolve)));

test('recover() finishes what a closed client left, with the tags', T, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlc-node-journal-'));
  const journal = path.join(dir, 'queue.db');
  const first = new Client({ baseUrl: base, journal, rateLimit: { max: 1, windowMs: 60_000 } });
  assert.throws(
    () => new Client({ baseUrl: base, journal }),
    (e) => e instanceof RlcError && e.code === 'RLC_E_JOURNAL' && /locked/.test(e.message)
  );
  // Settled into values at once: the two that the close rejects must not go unhandled.
  const settled = ['a', 'b', 'c'].map((tag) =>
    first.post('/ok', { tag, body: tag }).then(
      (response) => ({ response }),
      (error) => ({ error })
    )
  );
  const { response: firstResponse } = await settled[0];
  assert.equal(firstResponse.tag, 'a');
  await first.close();
  for (const outcome of await Promise.all(settled.slice(1))) {
    assert.equal(outcome.error && outcome.error.code, 'RLC_E_SHUTDOWN');
  }

  const second = new Client({ baseUrl: base, journal });
  try {
    const results = await second.recover();
    const seen = results.map((r) => [r.tag, r.response && r.response.status, r.error]).sort();
    assert.deepEqual(seen, [
      ['b', 200, null],
      ['c', 200, null],
    ]);
    assert.deepEqual(await second.recover({ priority: 5 }), [], 'recovered once only');
  } finally {
    await second.close();
  }
  // Three sends, each with its own Idempotency-Key.
  assert.equal(keys.length, 3);
  assert.equal(new Set(keys).size, 3);
  assert.ok(keys.every((k) => typeof k === 'string' && k.length > 30));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('recover() without a journal is refused', T, async () => {
  const client = new Client({ baseUrl: base });
  try {
    await assert.rejects(client.recover(), (e) => e.code === 'RLC_E_INVALID_STATE');
    assert.throws(() => new Client({ journal: 42 }), TypeError);
    await assert.rejects(client.get('/ok', { tag: 7 }), TypeError);
  } finally {
    await client.close();
  }
});
