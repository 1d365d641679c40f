/** `formstate token`: mint a development JWT for the devnet. */
import { notYetAvailable, type Command } from './command.ts'

export const tokenCommand: Command = notYetAvailable('token', 'mint a devnet JWT (sub, project, role, scopes)', 'Usage: formstate token [options]')
