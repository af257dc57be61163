'use strict';

/**
 * The platform key of the running process, as the folders under prebuilds/ are
 * named: `${platform}-${arch}`, plus the C library on Linux (a librlc.so built
 * against glibc does not load on musl, and the other way round). Shared by the
 * loader (index.js) and the pack script, which must agree on it.
 */
function platformKey() {
  let key = `${process.platform}-${process.arch}`;
  if (process.platform === 'linux') {
    const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : null;
    key += report && report.header && report.header.glibcVersionRuntime ? '-gnu' : '-musl';
  }
  return key;
}

module.exports = { platformKey };
