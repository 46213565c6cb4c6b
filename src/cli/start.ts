/** Process entry of `npm start`: `bftkv demo` with the arguments given after `npm start --`. */
import { runProcess } from './run.js';

await runProcess(['demo', ...process.argv.slice(2)]);
