/** Public surface of the CLI layer. */
export { main, buildProgram } from './main.js';
export { ExitCode, exitCodeFor } from './exit-codes.js';
