#!/usr/bin/env node
// `npm run rotate-keys`: re-wraps the vault's data keys under a new master key (see src/rotate-keys.ts).
import { rotateKeysMain } from '../src/rotate-keys.ts';

process.exitCode = await rotateKeysMain();
