'use strict';

// Redirects as rlc's own rule (credentials stay with their origin, loops fail with
// RLC_E_REDIRECT) and the cap on server-requested pauses, through the Node binding.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { Client, RlcError } = require('..');
const { startServer, within } = require('../testing/helpers');

const T = { timeout: 30_000 };
let target;
let redirector;
let redirectorUrl;

before(async () => {
  target = await startServer();
  // /to?u=URL answers 302 to URL; /loop redirects to itself; /busy asks for a year's pause.
  redirector = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/to') {
      res.writeHead(302, { location: url.searchParams.get('u') });
    } else if (url.pathname === '/loop') {
      res.writeHead(302, { location: '/loop' });
    } else if (url.pathname === '/busy') {
      res.writeHead(503, { 'retry-after': '31536000' });
    } else {
      res.writeHead(200);
    }
    res.end();
  });
  await new Promise((resolve) => redirector.listen(0, '127.0.0.1', resolve));
  redirectorUrl = `http://127.0.0.1:${redirector.address().port}`;
});
after(async () => {
  await target.close();
  await new Promise((resolve) => redirector.close(resolve));
});

test('a redirect to another origin drops the credentials and the sensitive headers', T, async () => {
  const client = new Client({
    baseUrl: redirectorUrl,
    headers: { 'x-api-key': 'k1', 'x-trace': 't1' },
    sensitiveHeaders: ['X-Api-Key'],
  });
  try {
    const res = await within(10_000, client.get(`/to?u=${encodeURIComponent(`${target.url}/echo`)}`, {
      headers: { authorization: 'Bearer secret', 'x-keep': 'kept' },
    }));
    assert.equal(res.status, 200);
    const seen = JSON.parse(res.headers['x-echo-headers']);
    assert.equal(seen.authorization, undefined);
    assert.equal(seen['x-api-key'], undefined);
    assert.equal(seen['x-keep'], 'kept');
    assert.equal(seen['x-trace'], 't1');
    assert.equal(client.metrics().redirects, 1);
  } finally {
    await within(10_000, client.close());
  }
});

test('a redirect loop rejects with RLC_E_REDIRECT; max 0 resolves with the 3xx', T, async () => {
  const client = new Client({ baseUrl: redirectorUrl });
  const off = new Client({ baseUrl: redirectorUrl, redirects: { max: 0 } });
  try {
    await assert.rejects(within(10_000, client.get('/loop')), (e) => e instanceof RlcError && e.code === 'RLC_E_REDIRECT');
    const res = await within(10_000, off.get('/loop'));
    assert.equal(res.status, 302);
    assert.equal(res.headers.location, '/loop');
    assert.throws(() => new Client({ redirects: { max: -1 } }), TypeError);
    assert.throws(() => new Client({ sensitiveHeaders: ['bad name'] }), RlcError);
  } finally {
    await within(10_000, client.close());
    await within(10_000, off.close());
  }
});

test('a year-long Retry-After is cut to maxServerPauseMs', T, async () => {
  const client = new Client({ baseUrl: redirectorUrl, retry: false, maxServerPauseMs: 200 });
  try {
    assert.equal((await within(10_000, client.get('/busy'))).status, 503);
    // Without the cap this would wait a year.
    assert.equal((await within(20_000, client.get('/ok'))).status, 200);
    assert.equal(client.metrics().serverPausesCapped, 1);
  } finally {
    await within(10_000, client.close());
  }
});
