#!/usr/bin/env node
// The grapevine command: plain JavaScript that loads the CLI compiled by the install step.
import "../dist/cli.js";
