#!/usr/bin/env node
// `npm run demo`: a gateway on an embedded SQLite file, a simulated day of 100 devices on
// LoRaWAN EU868 DR3 with some loss, duplication, reordering, an outage and a few attacks; then
// the summary and how to look at what was stored. Everything stays under ./demo/ (git-ignored).
import { mkdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { HostToolsGatewaySink, formatSummary, resolveScenario, runSimulation } from '@sceau/simulator';

const root = join(import.meta.dirname, '..');
const dir = join(root, 'demo');
const db = join(dir, 'sceau.db');
const capture = join(dir, 'capture.ndjson');
mkdirSync(dir, { recursive: true });
for (const f of [db, `${db}-wal`, `${db}-shm`, capture]) rmSync(f, { force: true });

const scenario = {
  seed: 'demo',
  duration: '24h',
  groups: [
    {
      name: 'demo',
      devices: 100,
      link: 'lorawan-eu868-dr3',
      interval: '10m',
      sensors: ['temperature', 'humidity', 'battery'],
      loss: 0.03,
      dup: 0.01,
      reorder: 0.01,
      jitter: '2s',
      outages: ['13h-14h'],
      attacks: { replay: 0.002, tamper: 0.002, forge: 0.002, 'wrong-key': 0.002 },
    },
  ],
};

const rel = (p) => relative(process.cwd(), p) || '.';
console.error(`demo: gateway (@sceau/host-tools) on ${rel(db)}; simulating 100 devices for a day on lorawan-eu868-dr3...`);
const sink = await HostToolsGatewaySink.start({ db });
const result = await runSimulation(resolveScenario(scenario), { sink, capture });
console.log(formatSummary(result));

const sceau = 'npx sceau';
console.log(`
The gateway stored every frame as received (signed bytes, outcome, source, time), the readings
and the replay windows in ${rel(db)}; every datagram as sent is in ${rel(capture)}.

  ${sceau} devices list --db ${rel(db)}
  ${sceau} export --db ${rel(db)} --format csv > readings.csv        (or --format json, senml)
  ${sceau} export --db ${rel(db)} --kid demo-0 --since 2025-01-01T12:00:00Z --format json
  ${sceau} gateway serve --db ${rel(db)} --http 127.0.0.1:8750        (then GET /v1/frames, /v1/devices/<kid>/readings)
  ${sceau} sim run --devices 100 --link lorawan-eu868-dr0 --loss 0.05 --attack replay=0.01
`);
process.exitCode = result.failures.length === 0 ? 0 : 1;
