// Seal a record with a device key and verify it as a gateway would: run `node examples/seal-and-verify.mjs`
// from the repository root after `npm ci && npm run build`.
import { getRandomValues } from 'node:crypto';
import {
  MemoryKeyring, ReplayWindows, channels, getPublicKey, kidOf, sealRecord, toHex, verifyFrame,
} from '@sceau/protocol';

// The device: a 32-byte Ed25519 seed (the firmware makes one from its hardware RNG on first boot).
const seed = getRandomValues(new Uint8Array(32));
const publicKey = getPublicKey(seed);
console.log(`device kid ${toHex(kidOf(publicKey))}`);

// A record: 21.5 °C now, 45.3 %RH ten minutes ago, battery 3.012 V; no wall clock on the device.
const record = {
  version: 1,
  counter: 1,
  time: null,
  readings: [
    { channel: channels.get('temperature').id, value: channels.fromUnit(1, 21.5) },
    { channel: 2, value: channels.fromUnit(2, 45.3), age: 600 },
    { channel: 5, value: 3012 },
  ],
};
const frame = sealRecord(record, seed);
console.log(`frame ${frame.length} bytes: ${toHex(frame)}`);

// The verifier: a keyring of registered devices and their replay windows.
const keyring = new MemoryKeyring();
keyring.add(publicKey);
const replay = new ReplayWindows();
const now = Math.floor(Date.now() / 1000);

const first = verifyFrame(frame, keyring, { replay, now });
for (const r of first.readings) {
  const c = channels.get(r.channel);
  console.log(`  ${c.name} = ${channels.toUnit(r.channel, r.value)} ${c.unit} at ${new Date(r.at * 1000).toISOString()}`);
}
console.log(`first delivery: ${first.ok ? 'accepted' : first.code}`);

const again = verifyFrame(frame, keyring, { replay, now });
console.log(`same frame again: ${again.ok ? 'accepted' : again.code}`);

const tampered = frame.slice();
tampered[20] ^= 1;
const forged = verifyFrame(tampered, keyring, { replay, now });
console.log(`one bit flipped: ${forged.ok ? 'accepted' : forged.code}`);
