/**
 * `sceau lns devices|formatter`: what a LoRaWAN network server (The Things Stack, ChirpStack)
 * imports for a simulated fleet, and its generated payload formatter (docs/integrators.md).
 * Both are @sceau/simulator's (`sceau-sim lns`): the simulator depends on host-tools, so
 * host-tools runs its command rather than importing it, as `sceau sim` does.
 */
import type { CommandGroup } from './context.js';
import { runSimulator } from './sim.js';

export const registerLns: CommandGroup = (program, { setExit }) => {
  program
    .command('lns')
    .description('LoRaWAN network servers: `sceau lns devices --from DIR --format tts|chirpstack|csv` (registration files of a `sceau sim lorawan` fleet), `sceau lns formatter --format tts|chirpstack` (payload formatter); `sceau lns --help`')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]', 'passed to sceau-sim lns')
    .action(async (args: string[]) => {
      setExit(await runSimulator(['lns', ...args]));
    });
};
