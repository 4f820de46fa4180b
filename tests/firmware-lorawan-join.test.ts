// An OTAA join in the DeviceScript VM through the SX1276 fake radio (firmware/src/lorawan-join.ts):
// the network side is this test's model (tests/helpers/lorawan-reference.ts, no firmware code):
// it checks the join-request, makes the join-accept (heard in RX2 with inverted IQ), derives the
// session keys itself and checks the first uplink byte for byte. A second join answered with the
// same join-accept is refused (JoinNonce not above the stored one), with the next DevNonce.
import { beforeAll, describe, expect, it } from 'vitest';
import { buildEntry } from '../firmware/scripts/build.mjs';
import { runToMarker } from '../firmware/scripts/devs-vm.mjs';
import * as ref from './helpers/lorawan-reference.js';

const appKey = '8d7ffe2a1c9b4e3f5a6b7c8d9e0f1a2b';
const joinEui = '70b3d57ed0000001';
const devEui = '0004a30b001c0530';
const f24 = (hz: number) => {
  const v = hz / 100;
  return [v & 255, (v >> 8) & 255, (v >> 16) & 255];
};
const cfList = Buffer.from([...f24(867.1e6), ...f24(867.3e6), ...f24(867.5e6), ...f24(867.7e6), ...f24(867.9e6), 0]).toString('hex');
const accept = { joinNonce: '000105', netId: '000013', devAddr: '260b0a0b', dlSettings: 0x03, rxDelay: 5, cfList };
const frf127 = (f: number) => Math.round((f / 32e6) * 2 ** 19).toString(16).padStart(6, '0');

let lines: string[] = [];
beforeAll(async () => {
  const c = { appKey, joinEui, devEui, joinAccept: ref.encodeJoinAccept(appKey, accept) };
  const { binary } = buildEntry('src/lorawan-join-test-main.ts', {
    'src/vector-input.ts': `export const CASES: string[] = [${JSON.stringify(JSON.stringify(c))}]\n`,
  });
  lines = await runToMarker(binary, { timeoutMs: 90_000, flash: {} });
}, 150_000);

const tagged = (tag: string) => lines.filter(l => l.startsWith(`#${tag} `)).map(l => l.slice(tag.length + 2));

describe('OTAA join in the DeviceScript VM (fake SX1276, network model in the test)', () => {
  it('sends join-requests the network accepts, with DevNonce 0 then 1 (stored counter)', () => {
    expect(tagged('sent')).toEqual([ref.joinRequest(appKey, joinEui, devEui, '0000'), ref.joinRequest(appKey, joinEui, devEui, '0001')]);
  });

  it('joins once; the same join-accept again is a JoinNonce replay and is refused', () => {
    expect(tagged('join')).toEqual(['ok 0', 'join-nonce 1']);
  });

  it('derives the session keys the network derives: the first uplink is byte-equal to the model\'s', () => {
    const keys = ref.sessionKeys(appKey, accept.joinNonce, accept.netId, '0000');
    expect(tagged('uplink')).toEqual([
      ref.encodeData(0, { ...keys, devAddr: accept.devAddr, fCnt: 0, fPort: 1, payload: 'd20102', confirmed: false, adr: true }),
    ]);
    // RxDelay 5 s, RX2 DR3 (SF9) from DLSettings, channels 0-7 after the CFList
    expect(tagged('state')).toEqual(['5 3 255']);
  });

  it('listens in RX1 (join-request channel, DR5) then RX2 (869.525 MHz DR0), both with inverted IQ', () => {
    const rx = tagged('rx');
    expect(rx).toHaveLength(4);
    expect(rx[0]).toBe(`${frf127(868.1e6)} 72 70 1a 67 19`); // 10 ms error: 20 ms + 6 symbols of 1.024 ms = 26 symbols
    expect(rx[1]).toBe(`${frf127(869.525e6)} 72 c0 07 67 19`); // 20 ms + 6 symbols of 32.768 ms = 7 symbols
    expect(rx[2]).toMatch(/^[0-9a-f]{6} 72 70 1a 67 19$/);
    expect(rx[3]).toBe(rx[1]);
  });
});
