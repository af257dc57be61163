'use strict';

// client.fetch: a drop-in for the global fetch, checked against fetch itself on the
// same server and by handing it to code written for fetch.

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

/** Code written for fetch, knowing nothing of rlc: GETs JSON, POSTs JSON. */
function makeSdk(fetchImpl, base) {
  return {
    async echo(payload) {
      const res = await fetchImpl(`${base}/echo`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(payload),
      });
      if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
      return { data: await res.json(), sentHeaders: JSON.parse(res.headers.get('x-echo-headers')) };
    },
    async status(code) {
      const res = await fetchImpl(new URL(`/status/${code}`, base));
      return { ok: res.ok, status: res.status, statusText: res.statusText, body: await res.text() };
    },
  };
}

test('code written for fetch gets the same answers from client.fetch as from fetch', T, async () => {
  const client = new Client({ baseUrl: server.url });
  try {
    const viaRlc = makeSdk(client.fetch.bind(client), server.url);
    const viaFetch = makeSdk(fetch, server.url);
    const payload = { name: 'ada', tags: ['x', 'y'], n: 3 };
    const a = await within(10_000, viaRlc.echo(payload));
    const b = await within(10_000, viaFetch.echo(payload));
    assert.deepEqual(a.data, payload);
    assert.deepEqual(a.data, b.data);
    assert.equal(a.sentHeaders['content-type'], 'application/json');
    assert.equal(a.sentHeaders.accept, 'application/json');
    for (const code of [200, 404, 503]) {
      assert.deepEqual(await within(10_000, viaRlc.status(code)), await viaFetch.status(code), `status ${code}`);
    }
    // It went through rlc: 1 echo and 3 statuses (503 retried: 3 more attempts).
    assert.equal(client.metrics().submitted, 4);
  } finally {
    await within(10_000, client.close());
  }
});

test('fetch returns a WHATWG Response: headers, url, text, arrayBuffer, null bodies', T, async () => {
  const client = new Client({ baseUrl: server.url, retry: false });
  try {
    const res = await within(10_000, client.fetch(`${server.url}/hello`));
    assert.ok(res instanceof Response);
    assert.equal(res.ok, true);
    assert.equal(res.status, 200);
    assert.equal(res.statusText, 'OK');
    assert.equal(res.url, `${server.url}/hello`);
    assert.equal(res.headers.get('X-RLC-Test'), 'yes');
    assert.equal(res.bodyUsed, false);
    assert.equal(await res.text(), 'hello');
    assert.equal(res.bodyUsed, true);

    // A path is joined to baseUrl.
    const bytes = await within(10_000, client.fetch('/bytes?n=300'));
    assert.equal(bytes.url, `${server.url}/bytes?n=300`);
    const buf = new Uint8Array(await bytes.arrayBuffer());
    assert.equal(buf.length, 300);
    assert.equal(buf[299], 299 & 0xff);

    // Statuses without a body, and HEAD, give a null body as fetch does.
    const noContent = await within(10_000, client.fetch('/status/204'));
    assert.equal(noContent.status, 204);
    assert.equal(noContent.body, null);
    const head = await within(10_000, client.fetch('/hello', { method: 'HEAD' }));
    assert.equal(head.status, 200);
    assert.equal(head.body, null);
  } finally {
    await within(10_000, client.close());
  }
});

test('fetch takes a Request, and every body type fetch takes', T, async () => {
  const client = new Client({ baseUrl: server.url });
  try {
    const req = new Request(`${server.url}/echo`, {
      method: 'PUT',
      headers: { 'x-from-request': 'r1' },
      body: new Uint8Array([1, 2, 3]),
    });
    const res = await within(10_000, client.fetch(req));
    assert.equal(res.headers.get('x-echo-method'), 'PUT');
    assert.equal(JSON.parse(res.headers.get('x-echo-headers'))['x-from-request'], 'r1');
    assert.deepEqual([...new Uint8Array(await res.arrayBuffer())], [1, 2, 3]);

    // init overrides the Request's method, as with fetch.
    const patched = await within(10_000, client.fetch(new Request(`${server.url}/echo`), { method: 'PATCH', body: 'p' }));
    assert.equal(patched.headers.get('x-echo-method'), 'PATCH');

    // Each body type reaches the server with the Content-Type fetch gives it.
    const bodies = [
      ['text', 'plain text', 'text/plain;charset=UTF-8'],
      ['form', new URLSearchParams({ a: '1', b: 'two' }), 'application/x-www-form-urlencoded;charset=UTF-8'],
      ['blob', new Blob(['{"x":1}'], { type: 'application/json' }), 'application/json'],
    ];
    for (const [what, body, type] of bodies) {
      const viaRlc = await within(10_000, client.fetch('/echo', { method: 'POST', body }));
      const viaFetch = await fetch(`${server.url}/echo`, { method: 'POST', body });
      const sent = JSON.parse(viaRlc.headers.get('x-echo-headers'));
      assert.equal(sent['content-type'], type, what);
      assert.equal(await viaRlc.text(), await viaFetch.text(), what);
    }
    const fd = new FormData();
    fd.set('field', 'value');
    const multipart = await within(10_000, client.fetch('/echo', { method: 'POST', body: fd }));
    assert.match(JSON.parse(multipart.headers.get('x-echo-headers'))['content-type'], /^multipart\/form-data; boundary=/);
    assert.match(await multipart.text(), /name="field"\r\n\r\nvalue\r\n/);
  } finally {
    await within(10_000, client.close());
  }
});

test('fetch rejects with signal.reason on abort, like fetch', T, async () => {
  const client = new Client({ baseUrl: server.url, retry: false });
  try {
    // Aborted in flight: rejects with that very reason, at once.
    const ac = new AbortController();
    const pending = client.fetch('/slow/fetch-abort?ms=5000', { signal: ac.signal });
    await until(() => server.arrivals.some((a) => a.path === '/slow/fetch-abort'), 10_000, 'the slow request arrived');
    const reason = new Error('changed my mind');
    ac.abort(reason);
    await assert.rejects(within(2_000, pending), (e) => e === reason);

    // AbortSignal.timeout rejects with its TimeoutError, as fetch does.
    await assert.rejects(
      within(10_000, client.fetch('/slow/fetch-timeout?ms=5000', { signal: AbortSignal.timeout(100) })),
      (e) => e.name === 'TimeoutError'
    );

    // Already aborted: rejects with the reason and sends nothing; the Request's own
    // signal counts when init has none.
    const before = server.arrivals.length;
    const done = new AbortController();
    done.abort('early');
    await assert.rejects(client.fetch('/hello', { signal: done.signal }), (e) => e === 'early');
    await assert.rejects(client.fetch(new Request(`${server.url}/hello`, { signal: done.signal })), (e) => e === 'early');
    assert.equal(server.arrivals.length, before);
  } finally {
    await within(10_000, client.close());
  }
});

test('fetch: init.priority orders waiting requests; failures are TypeError("fetch failed")', T, async () => {
  const client = new Client({ baseUrl: server.url, workers: 1, retry: false });
  try {
    // The only worker is busy for half a second while the others queue together.
    const first = client.fetch('/slow/fprio-first?ms=500');
    await until(() => server.arrivals.some((a) => a.path === '/slow/fprio-first'), 10_000, 'the first request arrived');
    const rest = [
      ['low', 1],
      ['high', 100],
      ['mid', 50],
    ].map(([name, priority]) => client.fetch(`/tag/fprio-${name}`, { priority }));
    await until(() => client.metrics().queueDepth === 3, 10_000, 'three queued requests');
    const all = await within(20_000, Promise.all([first, ...rest]));
    assert.ok(all.every((r) => r.ok));
    const order = server.arrivals.filter((a) => a.path.includes('/fprio-')).map((a) => a.path.split('/fprio-')[1]);
    assert.deepEqual(order, ['first', 'high', 'mid', 'low']);

    // No response: a TypeError whose cause is the RlcError, as fetch's network errors.
    await assert.rejects(within(20_000, client.fetch('http://127.0.0.1:1/nothing-listens')), (e) => {
      assert.equal(e.name, 'TypeError');
      assert.equal(e.message, 'fetch failed');
      assert.ok(e.cause instanceof RlcError);
      assert.equal(e.cause.code, 'RLC_E_CONNECT');
      return true;
    });
    // Arguments fetch refuses are refused the same way.
    await assert.rejects(client.fetch('/hello', { method: 'GET', body: 'x' }), TypeError);
  } finally {
    await within(10_000, client.close());
  }
});
