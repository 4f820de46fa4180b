/** Empty databases on one PostgreSQL test server (tests/helpers/system-servers.ts), one per test. */
import pg from 'pg';

let made = 0;

/** Creates a new empty database next to the server's `sceau` one; its URL. */
export async function freshDatabase(serverUrl: string): Promise<string> {
  const name = `t${process.pid}_${++made}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return serverUrl.replace(/\/sceau$/, `/${name}`);
}
