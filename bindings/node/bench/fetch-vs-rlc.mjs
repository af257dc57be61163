// Throughput of Node's own fetch vs the rlc binding: N GET requests at concurrency C
// against a local node:http server (started here) or a URL given.
//
//   node bench/fetch-vs-rlc.mjs [--n 5000] [--c 32] [--workers 32] [--url http://...]
//
// rlc runs without a rate limit and with retries off, so this measures the overhead of
// the binding (FFI, scheduler, worker hand-off, completion thread) against fetch.
// Not run by the tests.

import http from 'node:http';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const { Client } = require('..');

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '5000' },
    c: { type: 'string', default: '32' },
    workers: { type: 'string' },
    url: { type: 'string' },
  },
});
const N = Number(values.n);
const C = Number(values.c);
const WORKERS = Number(values.workers ?? C);

let server = null;
let url = values.url;
if (!url) {
  const payload = Buffer.from('{"ok":true}');
  server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': payload.length });
    res.end(payload);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${server.address().port}/`;
}

/** Runs `one()` n times with at most C at once; returns requests per second. */
async function run(one, n = N) {
  let next = 0;
  let failures = 0;
  const t0 = process.hrtime.bigint();
  async function lane() {
    while (next < n) {
      next++;
      const status = await one();
      if (status !== 200) failures++;
    }
  }
  await Promise.all(Array.from({ length: C }, lane));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (failures) console.warn(`  ${failures} non-200 responses`);
  return n / secs;
}

const viaFetch = async () => {
  const r = await fetch(url);
  await r.arrayBuffer();
  return r.status;
};

const client = new Client({ workers: WORKERS, maxQueueSize: N + C, retry: false });
const viaRlc = async () => (await client.get(url)).status;

console.log(`${N} GET ${url} at concurrency ${C} (rlc: ${WORKERS} workers)`);
// Warm up both (connections, JIT).
await run(viaFetch, Math.min(N, 1000));
await run(viaRlc, Math.min(N, 1000));

const fetchRps = await run(viaFetch);
console.log(`  fetch: ${fetchRps.toFixed(0)} req/s`);
const rlcRps = await run(viaRlc);
console.log(`  rlc  : ${rlcRps.toFixed(0)} req/s`);
console.log(`  rlc / fetch = ${(rlcRps / fetchRps).toFixed(2)}`);

await client.close();
if (server) {
  server.closeAllConnections();
  server.close();
}
