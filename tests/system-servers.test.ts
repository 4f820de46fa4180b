import { connect } from 'node:net';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startMosquitto, startPostgres } from './helpers/system-servers.js';

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

describe('system servers for the suite', () => {
  it('starts Mosquitto on a loopback port and stops it, removing its directory', async () => {
    const broker = await startMosquitto();
    expect(await accepts(broker.port)).toBe(true);
    await broker.stop();
    expect(await accepts(broker.port)).toBe(false);
    expect(existsSync(broker.dir)).toBe(false);
  });

  it('starts PostgreSQL as a non-root user, survives SIGKILL of the server and restarts on the same data', async () => {
    const pg = await startPostgres();
    expect(pg.url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/sceau$/);
    expect(await accepts(pg.port)).toBe(true);
    await pg.kill();
    expect(await accepts(pg.port)).toBe(false);
    const again = await startPostgres({ dir: pg.dir, port: pg.port });
    expect(await accepts(again.port)).toBe(true);
    await again.stop();
    expect(await accepts(again.port)).toBe(false);
  });
});
