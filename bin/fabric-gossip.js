#!/usr/bin/env node
// Runs the TypeScript sources directly: one tree for development, tests and the CLI.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
