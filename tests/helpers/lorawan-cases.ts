// Random LoRaWAN 1.0.x frame-coding cases with their expected results from the independent
// reference (tests/helpers/lorawan-reference.ts), in the item schema of `npm run -w firmware
// lorawan-vectors` (firmware/scripts/lorawan-vectors.mjs checkItem). A pinned xorshift32 seed: the
// same cases on every call, so the firmware (tests/firmware-lorawan.test.ts, in the VM) and the
// simulator (tests/simulator-lorawan-frames.test.ts) are held to the same items: join-requests,
// join-accepts with and without CFList (1 in 4 tampered), uplinks of every FPort kind with FOpts,
// flags and 32-bit FCnts, downlinks (1 in 5 tampered or under the wrong 32-bit FCnt), AES, CMAC,
// session keys, FRMPayload keystream and data MIC.
import * as ref from './lorawan-reference.js';
import { xorshift32 } from './xorshift.js';

export interface LorawanCase { input: Record<string, unknown>; expected: Record<string, unknown>; flipped?: boolean }

/** `n` cases of every op (9 ops), the same on every call. */
export function lorawanCases(n: number): LorawanCase[] {
  const next = xorshift32(0x5cea0001);
  const int = (m: number) => next() % m;
  const hex = (bytes: number) => Buffer.from(Array.from({ length: bytes }, () => int(256))).toString('hex');
  const bool = () => int(2) === 1;
  // counters: small, around the 16-bit boundary, and full 32-bit (high bit set included)
  const fCnt = () => [int(70000), 0xffff + int(3) - 1, next(), 0xffffffff - int(3), 0x80000000 + int(100000)][int(5)]!;
  const payload = (max: number) => hex([0, 1, 15, 16, 17, 32, 51, 115, 200, 242][int(10)]! % (max + 1));
  const flip = (h: string) => {
    const b = Buffer.from(h, 'hex');
    b[int(b.length)]! ^= 1 << int(8);
    return b.toString('hex');
  };

  const cases: LorawanCase[] = [];

  // join-request
  for (let i = 0; i < n; i++) {
    const input = { op: 'join-request', appKey: hex(16), joinEui: hex(8), devEui: hex(8), devNonce: hex(2) };
    cases.push({ input, expected: { phyPayload: ref.joinRequest(input.appKey, input.joinEui, input.devEui, input.devNonce) } });
  }
  // join-accept: 3 in 4 genuine (with and without CFList), 1 in 4 with a flipped bit
  for (let i = 0; i < n; i++) {
    const appKey = hex(16);
    const devNonce = hex(2);
    const f = { joinNonce: hex(3), netId: hex(3), devAddr: hex(4), dlSettings: int(256), rxDelay: int(16), cfList: bool() ? hex(16) : null };
    const wire = ref.encodeJoinAccept(appKey, f);
    const bad = i % 4 === 3;
    cases.push({
      input: { op: 'join-accept', appKey, devNonce, phyPayload: bad ? flip(wire) : wire },
      expected: bad
        ? { ok: false, joinNonce: null, netId: null, devAddr: null, dlSettings: null, rxDelay: null, cfList: null, nwkSKey: null, appSKey: null }
        : { ok: true, ...f, ...ref.sessionKeys(appKey, f.joinNonce, f.netId, devNonce) },
    });
  }
  // uplink: every FPort kind (none, 0 = MAC commands under NwkSKey, 1..255), FOpts, flags, 32-bit FCnt
  const dataFrame = (i: number): ref.DataFrame => {
    const kind = i % 5;
    const fPort = kind === 0 ? null : kind === 1 ? 0 : 1 + int(255);
    const fOpts = fPort === 0 || bool() ? null : hex(int(16));
    const room = 255 - 13 - (fOpts === null ? 0 : fOpts.length / 2);
    return {
      nwkSKey: hex(16), appSKey: hex(16), devAddr: hex(4), fCnt: fCnt(), fPort,
      payload: fPort === null ? '' : payload(room), confirmed: bool(), fOpts, adr: bool(), ack: bool(),
    };
  };
  for (let i = 0; i < n; i++) {
    const f = { ...dataFrame(i), adrAckReq: bool() };
    cases.push({ input: { op: 'uplink', ...f }, expected: { phyPayload: ref.encodeData(0, f) } });
  }
  // downlink: genuine ones decoded; 1 in 5 tampered (a bit flipped, or announced under another FCnt)
  for (let i = 0; i < n; i++) {
    const f = { ...dataFrame(i), fPending: bool() };
    const wire = ref.encodeData(1, f);
    const input = { op: 'downlink', nwkSKey: f.nwkSKey, appSKey: f.appSKey, devAddr: f.devAddr, fCntDown: f.fCnt, phyPayload: wire };
    if (i % 5 === 4) {
      const flipped = bool();
      if (flipped) input.phyPayload = flip(wire);
      else input.fCntDown = (f.fCnt + 0x10000) % 0x100000000; // same 16 bits on air, wrong 32-bit counter
      cases.push({ flipped, input, expected: { ok: false, fPort: null, payload: null, fOpts: null, ack: null, fPending: null, adr: null, confirmed: null } });
      continue;
    }
    cases.push({
      input,
      expected: { ok: true, fPort: f.fPort, payload: f.payload, fOpts: f.fOpts ?? '', ack: f.ack, fPending: f.fPending, adr: f.adr, confirmed: f.confirmed },
    });
  }
  // the single steps: raw AES-128/256, CMAC on random lengths, session keys, keystream, data MIC
  for (let i = 0; i < n; i++) {
    const key = hex(bool() ? 16 : 32);
    const plaintext = hex(16);
    cases.push({ input: { op: 'aes', key, plaintext }, expected: { ciphertext: ref.aes(Buffer.from(key, 'hex'), Buffer.from(plaintext, 'hex')).toString('hex') } });
    const message = hex(int(80));
    cases.push({ input: { op: 'cmac', key, message }, expected: { mac: ref.cmac(Buffer.from(key, 'hex'), Buffer.from(message, 'hex')).toString('hex') } });
    const sk = { appKey: hex(16), joinNonce: hex(3), netId: hex(3), devNonce: hex(2) };
    cases.push({ input: { op: 'session-keys', ...sk }, expected: ref.sessionKeys(sk.appKey, sk.joinNonce, sk.netId, sk.devNonce) });
    const dir = bool() ? 'up' : 'down';
    const step = { key: hex(16), devAddr: hex(4), fCnt: fCnt(), data: hex(int(120)) };
    cases.push({
      input: { op: 'frm-payload', dir, key: step.key, devAddr: step.devAddr, fCnt: step.fCnt, payload: step.data },
      expected: { payload: ref.frmPayload(step.key, dir === 'up' ? 0 : 1, step.devAddr, step.fCnt, Buffer.from(step.data, 'hex')).toString('hex') },
    });
    const msg = hex(1 + int(120));
    cases.push({
      input: { op: 'data-mic', dir, nwkSKey: step.key, devAddr: step.devAddr, fCnt: step.fCnt, msg },
      expected: { mic: ref.dataMic(step.key, dir === 'up' ? 0 : 1, step.devAddr, step.fCnt, Buffer.from(msg, 'hex')).toString('hex') },
    });
  }
  return cases;
}
