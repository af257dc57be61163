'use strict';

// A node:http server on 127.0.0.1 for the tests, with a few routes:
//   /hello               200 "hello" with an x-rlc-test header
//   /echo                the request body back, with the request headers as JSON in x-echo-headers
//   /bytes?n=N           N bytes 0,1,...,255,0,1,... (application/octet-stream)
//   /status/CODE         an empty response with that status
//   /slow[/NAME]?ms=N    200 after N ms
//   /flaky/KEY?fail=N    503 for the first N calls with that KEY, then 200
//   /tag/NAME            200 NAME (every request is recorded in `arrivals` anyway)

const http = require('node:http');

async function startServer() {
  const arrivals = [];
  const flaky = new Map();
  const timers = new Set();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    arrivals.push({ method: req.method, path: url.pathname, at: Date.now() });
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const parts = url.pathname.split('/').filter(Boolean);
      const later = (ms, fn) => {
        const t = setTimeout(() => {
          timers.delete(t);
          fn();
        }, ms);
        timers.add(t);
      };
      switch (parts[0]) {
        case 'hello':
          res.writeHead(200, { 'content-type': 'text/plain', 'x-rlc-test': 'yes' });
          return res.end('hello');
        case 'echo':
          res.writeHead(200, {
            'content-type': 'application/octet-stream',
            'x-echo-method': req.method,
            'x-echo-headers': JSON.stringify(req.headers),
          });
          return res.end(body);
        case 'bytes': {
          const n = Number(url.searchParams.get('n') || 256);
          const buf = Buffer.alloc(n);
          for (let i = 0; i < n; i++) buf[i] = i & 0xff;
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          return res.end(buf);
        }
        case 'status':
          res.writeHead(Number(parts[1]));
          return res.end();
        case 'slow':
          return later(Number(url.searchParams.get('ms') || 1000), () => {
            res.writeHead(200);
            res.end('slow');
          });
        case 'flaky': {
          const n = (flaky.get(parts[1]) || 0) + 1;
          flaky.set(parts[1], n);
          if (n <= Number(url.searchParams.get('fail') || 2)) {
            res.writeHead(503);
            return res.end('try again');
          }
          res.writeHead(200);
          return res.end(`ok after ${n}`);
        }
        case 'tag':
          res.writeHead(200);
          return res.end(parts[1] || '');
        default:
          res.writeHead(404);
          return res.end('no such route');
      }
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    arrivals,
    async close() {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Settles within `ms` or fails (so that a hang shows as a failure, not a stall). */
function within(ms, promise, what = 'operation') {
  let t;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

/** Resolves when `cond()` is true, polling; fails after `ms`. */
async function until(cond, ms = 10_000, what = 'condition') {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what} not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

module.exports = { startServer, within, until };
