// Runs ts-proto's protoc plugin with the Node that runs this file. buf.gen.yaml calls
// `node scripts/ts-proto-plugin.mjs` instead of `node_modules/.bin/protoc-gen-ts_proto`, a shell
// shim Windows cannot execute (a `.cmd` shim would be needed there). The plugin reads the
// CodeGeneratorRequest on stdin and writes the response on stdout as soon as it is loaded.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
require('ts-proto/build/src/plugin');
