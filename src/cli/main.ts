/** Process entry of the `bftkv` command (bin/bftkv.js, `npm run bftkv --`). */
import { runProcess } from './run.js';

await runProcess(process.argv.slice(2));
