'use strict';

// `npm pack` / `npm publish` hooks: put the librlc.so of this machine into the
// package as prebuilds/<platform>/librlc.so (prepack), and take it out again
// afterwards (postpack), so a checkout never loads a stale packed copy.
//
//   node scripts/bundle-library.js          copy RLC_LIBRARY_PATH, else ../../target/release/librlc.so
//   node scripts/bundle-library.js --clean  remove prebuilds/
//
// The platform key comes from index.js, which picks the folder at load time.

const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const prebuilds = path.join(root, 'prebuilds');

if (process.argv.includes('--clean')) {
  fs.rmSync(prebuilds, { recursive: true, force: true });
  process.exit(0);
}

// index.js needs koffi only to load the library; platformKey() does not.
const { platformKey } = require('../platform.js');

const source = process.env.RLC_LIBRARY_PATH || path.resolve(root, '..', '..', 'target', 'release', 'librlc.so');
if (!fs.existsSync(source)) {
  console.error(`rlc: cannot pack: ${source} does not exist. Build it first: cargo build --release --lib`);
  process.exit(1);
}
const dir = path.join(prebuilds, platformKey());
fs.rmSync(prebuilds, { recursive: true, force: true });
fs.mkdirSync(dir, { recursive: true });
fs.copyFileSync(source, path.join(dir, 'librlc.so'));
console.error(`rlc: packing ${source} as prebuilds/${platformKey()}/librlc.so`);
