#!/usr/bin/env node
// Launcher of an execution worker (`npm run worker`): consumes the Redis execution queue until SIGTERM/SIGINT.
import { workerMain } from '../src/scale/worker-main.ts';

process.exitCode = await workerMain();
