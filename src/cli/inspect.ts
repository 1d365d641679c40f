/** `formstate inspect`: show and compare replica state (digests, vectors, raw CRDT state). */
import { notYetAvailable, type Command } from './command.ts'

export const inspectCommand: Command = notYetAvailable('inspect', 'inspect or compare replica state (digest, version vector, entities, op log)', 'Usage: formstate inspect <what> [options]')
