'use strict';

// Starts a redis-server for a test on a free 127.0.0.1 port with persistence off;
// with `password`, it requires that password. Resolves to null when redis-server is not installed (CI installs it: .ci/run).

const { spawn, spawnSync } = require('node:child_process');
const net = require('node:net');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function ping(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1', () => c.write('PING\r\n'));
    c.on('data', (d) => {
      c.destroy();
      resolve(/^(\+PONG|-NOAUTH)/.test(d.toString()));
    });
    c.on('error', () => resolve(false));
  });
}

async function startRedis(password) {
  if (spawnSync('redis-server', ['--version']).status !== 0) return null;
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'].concat(
      password ? ['--requirepass', password] : []
    ),
    { stdio: 'ignore' }
  );
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (await ping(port)) return { port, url: `redis://127.0.0.1:${port}/0`, stop: () => child.kill('SIGKILL') };
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  throw new Error('redis-server did not answer within 10 s');
}

module.exports = { startRedis };
