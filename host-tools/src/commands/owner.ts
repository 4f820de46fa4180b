/** `sceau owner ...`: the data owner's keys (owner-command.ts, docs/privacy.md). */
import { addOwnerCommands } from '../owner-command.js';
import type { CommandGroup } from './context.js';

export const registerOwner: CommandGroup = (program, { io }) => addOwnerCommands(program, io);
