// Runs a wasip1 command module under Node's WASI (V8), passing the remaining
// arguments to it: node --no-warnings run-wasi.mjs bench.wasm -time 2s
// It prints the run's CPU time (compilation excluded) to stderr as
// "# cpu_ns N".
import { readFile } from 'node:fs/promises';
import { argv, exit } from 'node:process';
import { WASI } from 'node:wasi';

const wasi = new WASI({ version: 'preview1', args: ['wasmbench', ...argv.slice(3)], env: {}, returnOnExit: true });
const module = await WebAssembly.compile(await readFile(argv[2]));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
const c0 = process.cpuUsage();
const status = wasi.start(instance);
const c = process.cpuUsage(c0);
// The run's CPU time, compilation excluded, for measurements on a busy machine.
process.stderr.write(`# cpu_ns ${(c.user + c.system) * 1000}\n`);
exit(status);
