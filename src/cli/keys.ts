/** `formstate keys`: create, list, rotate and revoke API keys. */
import { notYetAvailable, type Command } from './command.ts'

export const keysCommand: Command = notYetAvailable('keys', 'manage API keys (create, list, rotate, revoke)', 'Usage: formstate keys <create|list|rotate|revoke> [options]')
