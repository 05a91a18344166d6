#!/usr/bin/env node
import { runCli } from './core/cli/program.js';

await runCli(process.argv);
