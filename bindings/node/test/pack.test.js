'use strict';

// The package as a user gets it: `npm pack` here (which bundles this machine's
// librlc.so under prebuilds/<platform>/), then `npm install --offline` of that
// tarball into a temporary project outside the repository, with koffi from the npm
// cache (which `npm ci` filled), then `import { Client } from 'rlc'` and
// `require('rlc')` in that project against a real server.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const { promisify } = require('node:util');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { platformKey } = require('../platform.js');
const { startServer } = require('../testing/helpers');

const T = { timeout: 180_000 };
const PKG = path.resolve(__dirname, '..');
let server;
let tmp;

before(async () => {
  server = await startServer();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rlc-pack-'));
});
after(async () => {
  await server.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/**
 * Runs a command; resolves with stdout; rejects with stdout and stderr on failure.
 * Asynchronous: the test server lives in this process and must keep answering.
 */
async function run(cmd, args, cwd) {
  const env = { ...process.env };
  delete env.RLC_LIBRARY_PATH; // the installed package must find its own library
  for (const k of Object.keys(env)) if (k.startsWith('npm_')) delete env[k]; // not this npm's settings
  try {
    const { stdout } = await promisify(execFile)(cmd, args, { cwd, env, encoding: 'utf8', timeout: 120_000 });
    return stdout;
  } catch (e) {
    throw new Error(`${cmd} ${args.join(' ')} in ${cwd} failed:\n${e.stdout}\n${e.stderr}`);
  }
}

/**
 * A project with koffi locked as this package locks it (every entry of
 * package-lock.json, so `npm ci --offline` needs nothing but the cache), then the
 * tarball installed offline on top.
 */
async function installInto(dir, tarball) {
  fs.mkdirSync(dir, { recursive: true });
  const lock = JSON.parse(fs.readFileSync(path.join(PKG, 'package-lock.json'), 'utf8'));
  const koffi = lock.packages[''].dependencies.koffi;
  const manifest = { name: 'rlc-consumer', version: '1.0.0', private: true, dependencies: { koffi } };
  lock.name = manifest.name;
  lock.version = manifest.version;
  lock.packages[''] = { name: manifest.name, version: manifest.version, dependencies: { koffi } };
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  fs.writeFileSync(path.join(dir, 'package-lock.json'), JSON.stringify(lock, null, 2));
  await run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], dir);
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], dir);
}

test('npm pack carries the library for this platform; the tarball installs offline and loads as ESM and CommonJS', T, async () => {
  const packed = JSON.parse(await run('npm', ['pack', '--json', '--pack-destination', tmp], PKG))[0];
  const files = packed.files.map((f) => f.path).sort();
  const lib = `prebuilds/${platformKey()}/librlc.so`;
  for (const f of ['index.js', 'index.mjs', 'index.d.ts', 'events.js', 'journal.js', 'platform.js', 'package.json', lib]) {
    assert.ok(files.includes(f), `the tarball lacks ${f}: ${files.join(', ')}`);
  }
  assert.ok(!files.some((f) => f.startsWith('test/') || f.startsWith('node_modules/')), files.join(', '));
  assert.ok(!fs.existsSync(path.join(PKG, 'prebuilds')), 'postpack left prebuilds/ in the checkout');

  const proj = path.join(tmp, 'project');
  await installInto(proj, path.join(tmp, packed.filename));

  fs.writeFileSync(
    path.join(proj, 'esm.mjs'),
    `import { Client, RlcError, libraryPath } from 'rlc';
import rlc from 'rlc';
import { createRequire } from 'node:module';
const cjs = createRequire(import.meta.url)('rlc');
const client = new Client({ baseUrl: process.argv[2] });
const res = await client.get('/hello');
const viaFetch = await client.fetch('/hello');
await client.close();
console.log(JSON.stringify({
  status: res.status, body: res.body.toString(), fetched: await viaFetch.text(),
  library: libraryPath(), sameClass: cjs.Client === Client && rlc.Client === Client,
  sameError: cjs.RlcError === RlcError,
}));
`
  );
  fs.writeFileSync(
    path.join(proj, 'cjs.js'),
    `const { Client, libraryPath } = require('rlc');
(async () => {
  const client = new Client({ baseUrl: process.argv[2] });
  const res = await client.get('/hello');
  await client.close();
  console.log(JSON.stringify({ status: res.status, body: res.body.toString(), library: libraryPath() }));
})();
`
  );
  const installedLib = fs.realpathSync(path.join(proj, 'node_modules', 'rlc', lib));
  const esm = JSON.parse(await run(process.execPath, ['esm.mjs', server.url], proj));
  assert.deepEqual(esm, {
    status: 200,
    body: 'hello',
    fetched: 'hello',
    library: installedLib,
    sameClass: true,
    sameError: true,
  });
  const cjs = JSON.parse(await run(process.execPath, ['cjs.js', server.url], proj));
  assert.deepEqual(cjs, { status: 200, body: 'hello', library: installedLib });

  // A package that carries no library for this platform says so, naming both.
  const other = path.join(proj, 'node_modules', 'rlc', 'prebuilds', 'other-arch-gnu');
  fs.renameSync(path.dirname(installedLib), other);
  fs.writeFileSync(path.join(proj, 'missing.js'), `const { Client } = require('rlc'); new Client();`);
  await assert.rejects(
    run(process.execPath, ['missing.js'], proj),
    (e) => e.message.includes(`no librlc.so for this platform, ${platformKey()}`) && e.message.includes('other-arch-gnu')
  );
});
