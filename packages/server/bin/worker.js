#!/usr/bin/env node
// Launcher of an execution worker (`npm run worker`): consumes the Redis execution queue until SIGTERM/SIGINT.
import { workerMain } from '../src/scale/worker-main.ts';

// Exit explicitly: after a drain everything is flushed, and after a failed start Redis reconnect timers would
// otherwise keep the process alive.
process.exit(await workerMain());
