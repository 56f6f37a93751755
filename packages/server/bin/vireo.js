#!/usr/bin/env node
// The `vireo` bin. It exists before `tsc -b` has built dist/, so npm can link it at
// install time; the command itself is dist/cli.js.
import '../dist/cli.js';
