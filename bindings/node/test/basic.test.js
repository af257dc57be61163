'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const path = require('node:path');
const { Client, RlcError, version } = require('..');
const { startServer, within } = require('../testing/helpers');

const T = { timeout: 30_000 };
let server;

before(async () => {
  server = await startServer();
});
after(async () => {
  await server.close();
});

test('version is a non-empty string', T, () => {
  assert.equal(typeof version(), 'string');
  assert.ok(version().length > 0);
});

test('a GET resolves with status, headers, body and attempts', T, async () => {
  const client = new Client({ baseUrl: server.url });
  try {
    const res = await within(10_000, client.get('/hello'));
    assert.equal(res.status, 200);
    assert.equal(res.attempts, 1);
    assert.ok(Buffer.isBuffer(res.body));
    assert.equal(res.body.toString(), 'hello');
    assert.equal(res.headers['content-type'], 'text/plain');
    assert.equal(res.headers['x-rlc-test'], 'yes');

    const abs = await within(10_000, client.request('get', `${server.url}/hello`));
    assert.equal(abs.status, 200);
  } finally {
    await within(10_000, client.close());
  }
});

test('HTTP errors resolve: a status is a completion', T, async () => {
  const client = new Client({ baseUrl: server.url, retry: false });
  try {
    const nf = await within(10_000, client.get('/status/404'));
    assert.equal(nf.status, 404);
    const se = await within(10_000, client.get('/status/500'));
    assert.equal(se.status, 500);
    assert.equal(se.body.length, 0);
  } finally {
    await within(10_000, client.close());
  }
});

test('request headers, default headers and binary bodies go both ways', T, async () => {
  const client = new Client({ baseUrl: server.url, headers: { 'x-default': 'd1' } });
  try {
    const sent = Buffer.alloc(64 * 1024 + 7);
    for (let i = 0; i < sent.length; i++) sent[i] = (i * 31 + 7) & 0xff;
    sent[0] = 0; // a NUL byte in a body is fine
    const res = await within(
      10_000,
      client.post('/echo', { body: sent, headers: { 'X-Custom': 'v1', 'content-type': 'application/octet-stream' } })
    );
    assert.equal(res.status, 200);
    assert.ok(res.body.equals(sent), 'the echoed body is the sent body, byte for byte');
    const seen = JSON.parse(res.headers['x-echo-headers']);
    assert.equal(seen['x-custom'], 'v1');
    assert.equal(seen['x-default'], 'd1');
    assert.equal(res.headers['x-echo-method'], 'POST');

    // Other body types: string (UTF-8), Uint8Array, ArrayBuffer; headers as a Map.
    const s = await client.put('/echo', { body: 'héllo ✓' });
    assert.equal(s.body.toString('utf8'), 'héllo ✓');
    const u = await client.post('/echo', { body: new Uint8Array([1, 2, 3]), headers: new Map([['x-a', 'b']]) });
    assert.deepEqual([...u.body], [1, 2, 3]);
    assert.equal(JSON.parse(u.headers['x-echo-headers'])['x-a'], 'b');
    const a = await client.post('/echo', { body: new Uint8Array([9, 8]).buffer });
    assert.deepEqual([...a.body], [9, 8]);

    const bytes = await within(10_000, client.get('/bytes?n=100000'));
    assert.equal(bytes.body.length, 100000);
    for (let i = 0; i < bytes.body.length; i++) {
      if (bytes.body[i] !== (i & 0xff)) assert.fail(`byte ${i} is ${bytes.body[i]}`);
    }

    const empty = await client.get('/bytes?n=0');
    assert.equal(empty.body.length, 0);
  } finally {
    await within(10_000, client.close());
  }
});

test('metrics count what happened', T, async () => {
  const client = new Client({ baseUrl: server.url, retry: false });
  try {
    await Promise.all([client.get('/hello'), client.get('/hello'), client.get('/status/404')]);
    const m = client.metrics();
    assert.equal(m.submitted, 3);
    assert.equal(m.succeeded, 2);
    assert.equal(m.http4xx, 1);
    assert.equal(m.breakerState, 'closed');
    assert.equal(m.queueDepth, 0);
    assert.equal(typeof m.latencyP50Us, 'number');
    assert.match(client.metricsPrometheus(), /rlc_/);
  } finally {
    await within(10_000, client.close());
  }
  assert.throws(() => client.metrics(), { code: 'RLC_E_SHUTDOWN' });
});

test('the name option labels every Prometheus sample', T, async () => {
  const client = new Client({ baseUrl: server.url, name: 'orders' });
  try {
    await client.get('/hello');
    const text = client.metricsPrometheus();
    assert.match(text, /^rlc_requests_submitted_total\{client="orders"\} 1$/m);
    assert.match(text, /^rlc_latency_seconds_count\{client="orders"\} 1$/m);
  } finally {
    await within(10_000, client.close());
  }
  assert.throws(() => new Client({ name: 42 }), { name: 'TypeError', message: /name must be a string/ });
  for (const bad of ['', 'line\nbreak', 'x'.repeat(129)]) {
    assert.throws(() => new Client({ name: bad }), { code: 'RLC_E_INVALID_ARGUMENT' });
  }
});

test('bad options throw TypeError or RlcError with a clear message', T, async () => {
  assert.throws(() => new Client('http://x'), TypeError);
  assert.throws(() => new Client({ baseUrl: 42 }), { name: 'TypeError', message: /baseUrl must be a string/ });
  assert.throws(() => new Client({ ratelimit: {} }), { name: 'TypeError', message: /unknown Client option "ratelimit"/ });
  assert.throws(() => new Client({ rateLimit: { max: 'ten', windowMs: 1000 } }), {
    name: 'TypeError',
    message: /rateLimit\.max must be an integer/,
  });
  assert.throws(() => new Client({ workers: -1 }), TypeError);
  assert.throws(() => new Client({ workers: 1.5 }), TypeError);
  assert.throws(() => new Client({ retry: 'yes' }), TypeError);
  assert.throws(() => new Client({ headers: { 'x-a': {} } }), TypeError);

  // Values of the right type that the library refuses.
  const refused = (options, what) => {
    assert.throws(
      () => new Client(options),
      (e) => {
        assert.ok(e instanceof RlcError, `${what}: ${e}`);
        assert.equal(e.code, 'RLC_E_INVALID_ARGUMENT');
        assert.ok(e.message.length > 0);
        return true;
      }
    );
  };
  refused({ baseUrl: 'not a url' }, 'baseUrl');
  refused({ rateLimit: { max: 0, windowMs: 1000 } }, 'zero rate');
  refused({ rateLimit: { max: 10, windowMs: 0 } }, 'zero window');
  refused({ workers: 0 }, 'zero workers');
  refused({ headers: { 'x-bad': 'a\r\nb' } }, 'CR/LF header');

  // Bad request arguments reject (the promise), never throw synchronously.
  const client = new Client({ baseUrl: server.url });
  try {
    await assert.rejects(client.request(5, '/hello'), TypeError);
    await assert.rejects(client.get('/hello', { priority: 'high' }), TypeError);
    await assert.rejects(client.get('/hello', { prio: 1 }), { name: 'TypeError', message: /unknown request option "prio"/ });
    await assert.rejects(client.get('/hello', { body: 42 }), TypeError);
    await assert.rejects(client.get('/hello', { headers: { 'x-bad': 'a\nb' } }), { code: 'RLC_E_INVALID_ARGUMENT' });
  } finally {
    await within(10_000, client.close());
  }

  // A relative path needs a base URL.
  const bare = new Client();
  try {
    await assert.rejects(bare.get('/hello'), { code: 'RLC_E_INVALID_ARGUMENT' });
  } finally {
    await within(10_000, bare.close());
  }
});

test('a transport failure rejects with its code and message', T, async () => {
  const client = new Client({ retry: false, timeoutMs: 5000 });
  try {
    // Nothing listens on port 1.
    await assert.rejects(within(10_000, client.get('http://127.0.0.1:1/')), (e) => {
      assert.ok(e instanceof RlcError);
      assert.equal(e.code, 'RLC_E_CONNECT');
      assert.ok(e.message.length > 0);
      return true;
    });
  } finally {
    await within(10_000, client.close());
  }
});

test('timeouts reject with RLC_E_TIMEOUT; a bad path with RLC_E_INVALID_ARGUMENT', T, async () => {
  const client = new Client({ baseUrl: server.url, retry: false });
  try {
    await assert.rejects(within(10_000, client.get('/slow/timeout?ms=3000', { timeoutMs: 200 })), (e) => {
      assert.equal(e.code, 'RLC_E_TIMEOUT');
      assert.ok(e.message.length > 0);
      return true;
    });
    await assert.rejects(within(10_000, client.get('/slow/deadline?ms=3000', { deadlineMs: 300 })), {
      code: 'RLC_E_TIMEOUT',
    });
    await assert.rejects(client.get('/has space'), (e) => {
      assert.ok(e instanceof RlcError);
      assert.equal(e.code, 'RLC_E_INVALID_ARGUMENT');
      assert.ok(e.message.length > 0);
      return true;
    });
    // Repeated request headers are sent as separate lines.
    const res = await client.get('/echo', { headers: { 'x-multi': ['a', 'b'] } });
    assert.equal(JSON.parse(res.headers['x-echo-headers'])['x-multi'], 'a, b');
  } finally {
    await within(10_000, client.close());
  }
});

test('the process exits on its own once clients are closed (no lingering handles)', T, async () => {
  const pkg = JSON.stringify(path.resolve(__dirname, '..'));
  const run = (script) =>
    new Promise((resolve) => {
      execFile(process.execPath, ['-e', script], { timeout: 20_000 }, (error, stdout, stderr) =>
        resolve({ error, stdout, stderr })
      );
    });

  // Request, close, exit.
  const r1 = await run(`
    const { Client } = require(${pkg});
    (async () => {
      const client = new Client({ baseUrl: ${JSON.stringify(server.url)} });
      const res = await client.get('/hello');
      await client.close();
      console.log('done', res.status);
    })();
  `);
  assert.equal(r1.error, null, `the child failed or hung: ${r1.error} ${r1.stderr}`);
  assert.match(r1.stdout, /done 200/);

  // Nothing but a pending request keeps the child alive until it completes; a client
  // never closed does not keep it alive afterwards.
  const r2 = await run(`
    const { Client } = require(${pkg});
    const client = new Client({ baseUrl: ${JSON.stringify(server.url)} });
    client.get('/slow?ms=300').then((res) => console.log('got', res.body.toString()));
  `);
  assert.equal(r2.error, null, `the child failed or hung: ${r2.error} ${r2.stderr}`);
  assert.match(r2.stdout, /got slow/);
});
