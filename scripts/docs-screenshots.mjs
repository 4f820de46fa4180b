#!/usr/bin/env node
// `npm run docs:screenshots`: the console's fleet, live and device pages as docs/integrators.md
// shows them, from a gateway filled by the simulator (8 devices over the last 24 hours, with
// forged and replayed frames), in Debian's chromium (headless, never a downloaded browser).
// Writes docs/console-fleet.png, docs/console-live.png and docs/console-device.png, and prints
// the bytes the first load of the console transferred.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';
import { getPublicKey, sealRecord, toHex } from '@sceau/protocol';
import { startGateway } from '@sceau/host-tools';
import { simCli } from '@sceau/simulator';

const root = join(import.meta.dirname, '..');
const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (chromium === undefined) {
  console.error('Chromium is not installed: apt-get install -y chromium');
  process.exit(3);
}

const token = randomBytes(24).toString('hex');
const dir = mkdtempSync(join(tmpdir(), 'sceau-screenshots-'));
const tokenFile = join(dir, 'token');
writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
const gw = await startGateway({ db: join(dir, 'console.db'), http: '127.0.0.1:0', tokenFile, log: () => undefined });
const url = gw.addresses.http.url;
let browser;
let feeding;
try {
  let out = '';
  const start = new Date(Date.now() - 24 * 3_600_000).toISOString();
  const code = await simCli(
    ['run', '--seed', 'docs', '--devices', '8', '--duration', '24h', '--interval', '15m', '--link', 'nbiot', '--loss', '0', '--dup', '0.05', '--attack', 'replay=0.03,forge=0.03', '--start', start, '--gateway', url, '--token-file', tokenFile, '--json'],
    { stdout: (t) => void (out += t), stderr: (t) => void (out += t), stderrIsTty: false },
  );
  if (code !== 0) throw new Error(`simulator: exit ${code}: ${out}`);

  // A device sending now, for the live page.
  const key = new Uint8Array(randomBytes(32));
  gw.store.addDevice(getPublicKey(key), { name: 'greenhouse-probe' });
  let counter = 0;
  const send = async () => {
    const frames = [];
    for (let i = 0; i < 5; i++) {
      counter++;
      const f = sealRecord({ version: 1, counter, time: Math.floor(Date.now() / 1000), readings: [{ channel: 1, value: 2150 + (counter % 40) }, { channel: 2, value: 5600 }, { channel: 5, value: 3290 }] }, key);
      if (counter % 7 === 0) f[f.length - 1] ^= 1;
      frames.push({ frame: toHex(f) });
    }
    await fetch(`${url}/v1/frames`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ frames }) });
  };

  browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'] });
  const page = await browser.newPage();
  await page.setViewport({ width: 1440, height: 900 });
  const cdp = await page.createCDPSession();
  await cdp.send('Network.enable');
  let firstLoadBytes = 0;
  cdp.on('Network.loadingFinished', (e) => (firstLoadBytes += e.encodedDataLength));
  await page.goto(`${url}/`, { waitUntil: 'networkidle0' });
  const loginBytes = firstLoadBytes;
  await page.type('#token', token);
  await page.click('#login-form button[type="submit"]');
  await page.waitForFunction('document.querySelectorAll(".fleet-grid.row").length >= 9', { timeout: 15_000 });
  await page.screenshot({ path: join(root, 'docs/console-fleet.png') });

  await page.goto(`${url}/#live`);
  feeding = setInterval(() => void send(), 250);
  await page.waitForFunction('Number(document.getElementById("live-list").dataset.rows) >= 40', { timeout: 20_000 });
  await page.screenshot({ path: join(root, 'docs/console-live.png') });
  clearInterval(feeding);
  feeding = undefined;

  const device = await gw.store.getDevice('fleet-3');
  await page.goto(`${url}/#device/${device.kid}`);
  await page.select('#device-period', '24h');
  await page.waitForFunction('document.querySelectorAll(".chart").length >= 2', { timeout: 15_000 });
  await page.screenshot({ path: join(root, 'docs/console-device.png'), fullPage: true });
  console.log(`first load: ${loginBytes} bytes before the token (page, script, style, icon), ${firstLoadBytes} bytes once the fleet is shown`);
  console.log('wrote docs/console-fleet.png, docs/console-live.png, docs/console-device.png');
} finally {
  if (feeding !== undefined) clearInterval(feeding);
  await browser?.close();
  await gw.close();
  rmSync(dir, { recursive: true, force: true });
}
