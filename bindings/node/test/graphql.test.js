'use strict';

// GraphQL (tests/graphql.rs) through the Node binding, against a small GraphQL
// endpoint on 127.0.0.1: data back, errors as a GraphQLError, garbage refused before
// anything is sent, THROTTLED answers retried and counted, the cost limit.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { Client, RlcError, GraphQLError } = require('..');

const T = { timeout: 60_000 };
let server;
let base;
let received = [];
let throttleNext = 0;

function cost(actual) {
  return {
    requestedQueryCost: 10,
    actualQueryCost: actual,
    throttleStatus: { maximumAvailable: 1000, currentlyAvailable: 990, restoreRate: 50 },
  };
}

before(async () => {
  // Answers like Shopify: {data, extensions.cost}; `fail` in the query gives an error;
  // while throttleNext > 0, THROTTLED at HTTP 200 (the points come back in 20 ms).
  server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      received.push(body);
      res.writeHead(200, { 'content-type': 'application/json' });
      if (throttleNext > 0) {
        throttleNext--;
        return res.end(JSON.stringify({
          errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED' } }],
          extensions: { cost: { ...cost(null), throttleStatus: { maximumAvailable: 1000, currentlyAvailable: 9, restoreRate: 50 } } },
        }));
      }
      if (body.query.includes('fail')) {
        return res.end(JSON.stringify({ data: { partial: 1 }, errors: [{ message: "Field 'fail' doesn't exist", path: ['fail'] }] }));
      }
      res.end(JSON.stringify({
        data: { echo: body.variables ?? null, operationName: body.operationName ?? null },
        extensions: { cost: cost(4) },
      }));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(() => new Promise((r) => server.close(r)));

test('a query resolves with its data; variables and the operation name pass through', T, async () => {
  const client = new Client({ baseUrl: base, costLimit: { points: 1000, windowMs: 20_000 } });
  try {
    const data = await client.graphql('query Q($n: Int) { items(first: $n) { id } }', { n: 5 }, { operationName: 'Q' });
    assert.deepEqual(data, { echo: { n: 5 }, operationName: 'Q' });
    assert.equal(received.at(-1).query, 'query Q($n: Int) { items(first: $n) { id } }');
    assert.equal(client.metrics().graphqlPoints, 4);
  } finally {
    await client.close();
  }
});

test('errors reject with a GraphQLError carrying them', T, async () => {
  const client = new Client({ baseUrl: base });
  try {
    await assert.rejects(client.graphql('{ fail }'), (e) => {
      assert.ok(e instanceof GraphQLError);
      assert.equal(e.errors[0].message, "Field 'fail' doesn't exist");
      assert.deepEqual(e.errors[0].path, ['fail']);
      assert.deepEqual(e.data, { partial: 1 });
      assert.equal(e.response.status, 200);
      return true;
    });
    assert.equal(client.metrics().graphqlErrors, 1);
  } finally {
    await client.close();
  }
});

test('garbage is refused at once, nothing sent', T, async () => {
  const client = new Client({ baseUrl: base });
  const before = received.length;
  try {
    await assert.rejects(client.graphql('query {'), (e) => {
      assert.ok(e instanceof RlcError);
      assert.equal(e.code, 'RLC_E_GRAPHQL');
      assert.match(e.message, /does not parse/);
      return true;
    });
    await assert.rejects(client.graphql('query A { a } query B { b }'), { code: 'RLC_E_GRAPHQL' });
    await assert.rejects(client.graphql('{ a }', [1]), TypeError);
    await assert.rejects(client.graphql('{ a }', null, { nope: 1 }), TypeError);
    assert.equal(received.length, before);
  } finally {
    await client.close();
  }
});

test('THROTTLED is retried and counted; the caller sees the data', T, async () => {
  const client = new Client({ baseUrl: base, retry: { maxRetries: 5, baseDelayMs: 5, maxDelayMs: 50 } });
  try {
    throttleNext = 2;
    const data = await client.graphql('mutation { add { id } }');
    assert.equal(data.echo, null);
    assert.equal(client.metrics().graphqlThrottled, 2);
    assert.ok(client.metrics().retries >= 2);
  } finally {
    throttleNext = 0;
    await client.close();
  }
});

test('a cost above the cost limit is refused at submit', T, async () => {
  const client = new Client({ baseUrl: base, costLimit: { points: 100, windowMs: 1000 } });
  try {
    await assert.rejects(client.graphql('{ a }', null, { cost: 101 }), { code: 'RLC_E_INVALID_ARGUMENT' });
    assert.deepEqual(await client.graphql('{ a }', null, { cost: 100 }), { echo: null, operationName: null });
    assert.throws(() => new Client({ costLimit: { points: 0, windowMs: 1000 } }), RlcError);
    assert.throws(() => new Client({ costLimit: { points: 1 } }), TypeError);
  } finally {
    await client.close();
  }
});
