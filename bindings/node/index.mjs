// The ES module entry point (package.json "exports" → "import"). It re-exports the
// CommonJS module rather than being a second copy of it, so `import` and `require`
// in one process share one loaded library and one set of classes (no dual-package
// hazard: an RlcError from one is instanceof RlcError in the other).
import rlc from './index.js';

export const { Client, RlcError, GraphQLError, version, libraryPath, RESULT_NAMES } = rlc;
export default rlc;
