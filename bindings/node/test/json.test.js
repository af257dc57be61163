'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
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

test('the json option sends JSON with its Content-Type, and res.json() reads it', T, async () => {
  const client = new Client({ baseUrl: server.url });
  try {
    const payload = { id: 7, name: 'ünï', list: [1, null, true] };
    const res = await within(10_000, client.post('/echo', { json: payload }));
    assert.equal(res.status, 200);
    assert.equal(res.ok, true);
    assert.deepEqual(res.json(), payload);
    assert.equal(res.text(), JSON.stringify(payload));
    const sent = JSON.parse(res.headers['x-echo-headers']);
    assert.equal(sent['content-type'], 'application/json');

    // The caller's Content-Type wins, whatever its case.
    const own = await within(10_000, client.put('/echo', { json: [1], headers: { 'Content-Type': 'application/vnd.api+json' } }));
    assert.equal(JSON.parse(own.headers['x-echo-headers'])['content-type'], 'application/vnd.api+json');
    assert.deepEqual(own.json(), [1]);

    // A JSON null is a body too.
    const nul = await within(10_000, client.post('/echo', { json: null }));
    assert.equal(nul.text(), 'null');

    // Not JSON: a SyntaxError, as JSON.parse.
    const hello = await within(10_000, client.get('/hello'));
    assert.throws(() => hello.json(), SyntaxError);
  } finally {
    await within(10_000, client.close());
  }
});

test('json refusals are TypeErrors thrown before anything is sent', T, async () => {
  const client = new Client({ baseUrl: server.url });
  try {
    const before = server.arrivals.length;
    await assert.rejects(client.post('/echo', { json: {}, body: 'x' }), TypeError);
    await assert.rejects(client.post('/echo', { json: () => 1 }), TypeError);
    const cyclic = {};
    cyclic.self = cyclic;
    await assert.rejects(client.post('/echo', { json: cyclic }), TypeError);
    assert.equal(server.arrivals.length, before);
  } finally {
    await within(10_000, client.close());
  }
});
