#!/usr/bin/env node
// The `bftkv` command (package.json "bin"): TypeScript runs through tsx, registered here, so there is no
// build step. Everything else is in src/cli/.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
