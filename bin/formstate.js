#!/usr/bin/env node
// Launcher for the `formstate` command when the package is installed or linked: the
// sources are TypeScript, so register tsx's ESM loader first, then load the CLI.
import { register } from 'tsx/esm/api'

register()
await import('../src/polyfill.ts')
const { main } = await import('../src/cli/main.ts')
process.exitCode = await main(process.argv.slice(2))
