'use strict';

// close() must not hold a thread of libuv's pool while the library waits for the
// requests in flight: the pool has four threads by default, and fs, DNS (lookup) and
// crypto.pbkdf2 queue behind anything that sits on them.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const { Client } = require('..');
const { startServer, within, until } = require('../testing/helpers');

const T = { timeout: 60_000 };
let server;

before(async () => {
  server = await startServer();
});
after(async () => {
  await server.close();
});

test('four clients closing with slow requests in flight leave the threadpool free', T, async () => {
  // As many closing clients as the pool has threads: enough to stall it when each
  // close sat on one.
  const poolSize = Number(process.env.UV_THREADPOOL_SIZE || 4);
  const clients = Array.from({ length: poolSize }, () => new Client({ baseUrl: server.url, retry: false }));
  // Each client has a request in flight that the server holds for 4 s.
  const inFlight = clients.map((c, i) => c.get(`/slow/close-pool-${i}?ms=4000`));
  await until(
    () => clients.every((_, i) => server.arrivals.some((a) => a.path === `/slow/close-pool-${i}`)),
    10_000,
    'every slow request arrived'
  );

  let closedCount = 0;
  const closes = clients.map((c) => c.close().then(() => closedCount++));

  // Threadpool work started after the closes: every item must finish while the
  // clients are still closing (they wait ~4 s for their requests; the work takes
  // milliseconds). With a close on each pool thread, none could.
  const work = [];
  const doneBeforeAnyClose = [];
  for (let i = 0; i < 4; i++) {
    work.push(
      new Promise((resolve, reject) =>
        crypto.pbkdf2('secret', `salt${i}`, 1000, 32, 'sha256', (err) => (err ? reject(err) : resolve()))
      ).then(() => doneBeforeAnyClose.push(closedCount === 0))
    );
    work.push(fs.promises.readFile(__filename).then(() => doneBeforeAnyClose.push(closedCount === 0)));
  }
  await within(30_000, Promise.all(work), 'the threadpool work');
  assert.equal(doneBeforeAnyClose.length, 8);
  assert.deepEqual(
    doneBeforeAnyClose,
    Array(8).fill(true),
    'threadpool work waited for a close: close() holds a pool thread'
  );

  // The closes complete as before: every in-flight request settles first.
  await within(30_000, Promise.all(closes), 'the closes');
  const settled = await Promise.allSettled(inFlight);
  assert.equal(settled.length, poolSize);
  for (const s of settled) assert.equal(s.status === 'fulfilled' ? s.value.status : s.reason.code, 200);
  assert.equal(closedCount, poolSize);
});
