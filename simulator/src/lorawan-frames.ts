/**
 * LoRaWAN 1.0.x frame coding, device side, for the wall-clock simulator (`sceau sim lorawan`):
 * join-request, join-accept open, 1.0.x session keys, data uplinks (FRMPayload encryption and MIC)
 * and data downlinks. AES-128 comes from node:crypto (ECB, encrypt direction only, as on a
 * device); CMAC is RFC 4493. The same operations as the firmware's `src/lorawan-frames.ts`, checked
 * against the same published vectors (`protocol/vectors/lorawan.json`).
 *
 * Byte order: every EUI and DevAddr in this API is big-endian ("display" order, as network servers
 * print them); the functions reverse them to the little-endian wire order (LoRaWAN L2 1.0.4 §4).
 */
import { createCipheriv } from 'node:crypto';
import type { Bytes } from '@sceau/protocol';

export const MTYPE_JOIN_REQUEST = 0x00;
export const MTYPE_JOIN_ACCEPT = 0x20;
export const MTYPE_UNCONFIRMED_UP = 0x40;
export const MTYPE_UNCONFIRMED_DOWN = 0x60;
export const MTYPE_CONFIRMED_UP = 0x80;
export const MTYPE_CONFIRMED_DOWN = 0xa0;
/** Largest LoRa packet. */
export const MAX_PHY_PAYLOAD = 255;

/** Why a received frame was refused (the firmware's `FrameError` values, prefixed). */
export type LorawanFrameCode = 'lorawan/length' | 'lorawan/mtype' | 'lorawan/dev-addr' | 'lorawan/fcnt' | 'lorawan/mic' | 'lorawan/fopts';

export interface FrameRefused {
  ok: false;
  code: LorawanFrameCode;
  detail: string;
}

function assertBytes(value: unknown, name: string, length?: number): asserts value is Bytes {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name}: expected Uint8Array, got ${typeof value}`);
  if (length !== undefined && value.length !== length) throw new RangeError(`${name}: expected Uint8Array of length ${length}, got length=${value.length}`);
}

function assertUint(value: unknown, name: string, max: number): asserts value is number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > max) throw new RangeError(`${name}: expected an integer 0..${max}, got ${String(value)}`);
}

/** AES-128 or AES-256 encryption of one 16-byte block (FIPS-197). */
export function aesEncryptBlock(key: Bytes, block: Bytes): Bytes {
  assertBytes(key, 'key');
  if (key.length !== 16 && key.length !== 32) throw new RangeError(`key: expected Uint8Array of length 16 or 32, got length=${key.length}`);
  assertBytes(block, 'block', 16);
  const c = createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
  c.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(block), c.final()]));
}

/** Doubling in GF(2^128) (RFC 4493 §2.3, Generate_Subkey). */
function double(b: Bytes): Bytes {
  const o = new Uint8Array(16);
  for (let i = 0; i < 16; i++) o[i] = ((b[i]! << 1) | (i < 15 ? b[i + 1]! >>> 7 : 0)) & 0xff;
  if (b[0]! & 0x80) o[15]! ^= 0x87;
  return o;
}

/** AES-CMAC (RFC 4493), the full 16-byte tag. */
export function aesCmac(key: Bytes, message: Bytes): Bytes {
  assertBytes(message, 'message');
  const k1 = double(aesEncryptBlock(key, new Uint8Array(16)));
  const k2 = double(k1);
  const n = Math.max(1, Math.ceil(message.length / 16));
  const complete = message.length > 0 && message.length % 16 === 0;
  let x: Bytes = new Uint8Array(16);
  const y = new Uint8Array(16);
  for (let i = 0; i < n; i++) {
    const start = 16 * i;
    const last = i === n - 1;
    for (let j = 0; j < 16; j++) {
      let m: number;
      if (start + j < message.length) m = message[start + j]!;
      else m = start + j === message.length && !complete ? 0x80 : 0;
      if (last) m ^= (complete ? k1 : k2)[j]!;
      y[j] = x[j]! ^ m;
    }
    x = aesEncryptBlock(key, y);
  }
  return x;
}

const reversed = (b: Bytes): Bytes => Uint8Array.from(b).reverse();

function putLe(out: Bytes, offset: number, value: number, bytes: number): void {
  for (let i = 0; i < bytes; i++) out[offset + i] = Math.floor(value / 2 ** (8 * i)) & 0xff;
}

function getLe(b: Bytes, offset: number, bytes: number): number {
  let v = 0;
  for (let i = bytes - 1; i >= 0; i--) v = v * 256 + b[offset + i]!;
  return v;
}

const mic4 = (key: Bytes, msg: Bytes): Bytes => aesCmac(key, msg).subarray(0, 4);

function equal4(a: Bytes, b: Bytes): boolean {
  let d = 0;
  for (let i = 0; i < 4; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

const refused = (code: LorawanFrameCode, detail: string): FrameRefused => ({ ok: false, code, detail });

export interface JoinRequestFields {
  appKey: Bytes;
  /** 8 bytes, big-endian. */
  joinEui: Bytes;
  /** 8 bytes, big-endian. */
  devEui: Bytes;
  /** 0..65535; a counter in 1.0.4 (§6.2.4), never reused with the same JoinEUI. */
  devNonce: number;
}

/** MHDR ‖ JoinEUI ‖ DevEUI ‖ DevNonce ‖ MIC (23 bytes, §6.2.4). */
export function encodeJoinRequest(f: JoinRequestFields): Bytes {
  assertBytes(f.appKey, 'appKey', 16);
  assertBytes(f.joinEui, 'joinEui', 8);
  assertBytes(f.devEui, 'devEui', 8);
  assertUint(f.devNonce, 'devNonce', 0xffff);
  const out = new Uint8Array(23);
  out[0] = MTYPE_JOIN_REQUEST;
  out.set(reversed(f.joinEui), 1);
  out.set(reversed(f.devEui), 9);
  putLe(out, 17, f.devNonce, 2);
  out.set(mic4(f.appKey, out.subarray(0, 19)), 19);
  return out;
}

export interface SessionKeys {
  nwkSKey: Bytes;
  appSKey: Bytes;
}

/** 1.0.x session keys (§6.2.5): AES(AppKey, type ‖ JoinNonce ‖ NetID ‖ DevNonce ‖ pad16). */
export function deriveSessionKeys10(appKey: Bytes, joinNonce: number, netId: number, devNonce: number): SessionKeys {
  assertBytes(appKey, 'appKey', 16);
  assertUint(joinNonce, 'joinNonce', 0xffffff);
  assertUint(netId, 'netId', 0xffffff);
  assertUint(devNonce, 'devNonce', 0xffff);
  const block = (type: number): Bytes => {
    const b = new Uint8Array(16);
    b[0] = type;
    putLe(b, 1, joinNonce, 3);
    putLe(b, 4, netId, 3);
    putLe(b, 7, devNonce, 2);
    return aesEncryptBlock(appKey, b);
  };
  return { nwkSKey: block(1), appSKey: block(2) };
}

export interface JoinAccepted extends SessionKeys {
  ok: true;
  joinNonce: number;
  netId: number;
  /** 4 bytes, big-endian. */
  devAddr: Bytes;
  /** RX1DROffset (bits 6..4) and RX2DataRate (bits 3..0). */
  dlSettings: number;
  /** RX1 delay in seconds; 0 means 1. */
  rxDelay: number;
  cfList: Bytes | null;
}

/**
 * Opens a join-accept (§6.2.6): the network server encrypted it with AES *decrypt*, so the
 * device AES-*encrypts* the bytes after MHDR, then checks the 1.0.x MIC and derives the session
 * keys with its own DevNonce. Untrusted input: never throws.
 */
export function openJoinAccept(appKey: Bytes, devNonce: number, phyPayload: Bytes): JoinAccepted | FrameRefused {
  assertBytes(appKey, 'appKey', 16);
  assertUint(devNonce, 'devNonce', 0xffff);
  assertBytes(phyPayload, 'phyPayload');
  const n = phyPayload.length;
  if (n !== 17 && n !== 33) return refused('lorawan/length', `a join-accept is 17 or 33 bytes, got ${n}`);
  if (phyPayload[0] !== MTYPE_JOIN_ACCEPT) return refused('lorawan/mtype', `MHDR 0x${phyPayload[0]!.toString(16).padStart(2, '0')} is not a join-accept (0x20)`);
  const plain = new Uint8Array(n);
  plain[0] = MTYPE_JOIN_ACCEPT;
  for (let o = 1; o < n; o += 16) plain.set(aesEncryptBlock(appKey, phyPayload.subarray(o, o + 16)), o);
  if (!equal4(mic4(appKey, plain.subarray(0, n - 4)), plain.subarray(n - 4))) return refused('lorawan/mic', 'join-accept MIC does not match (wrong AppKey or corrupted frame)');
  const joinNonce = getLe(plain, 1, 3);
  const netId = getLe(plain, 4, 3);
  return {
    ok: true,
    joinNonce,
    netId,
    devAddr: reversed(plain.subarray(7, 11)),
    dlSettings: plain[11]!,
    rxDelay: plain[12]!,
    cfList: n === 33 ? plain.slice(13, 29) : null,
    ...deriveSessionKeys10(appKey, joinNonce, netId, devNonce),
  };
}

/** The A_i / B0 blocks of §4.3.3 and §4.4: first byte ‖ 0^4 ‖ Dir ‖ DevAddr ‖ FCnt32 ‖ 0 ‖ last. */
function block(first: number, dir: 0 | 1, devAddr: Bytes, fCnt: number, last: number): Bytes {
  const b = new Uint8Array(16);
  b[0] = first;
  b[5] = dir;
  b.set(reversed(devAddr), 6);
  putLe(b, 10, fCnt, 4);
  b[15] = last;
  return b;
}

/** FRMPayload encryption and decryption (the same XOR keystream, §4.3.3). */
export function cryptFrmPayload(key: Bytes, dir: 'up' | 'down', devAddr: Bytes, fCnt: number, payload: Bytes): Bytes {
  assertBytes(key, 'key', 16);
  assertBytes(devAddr, 'devAddr', 4);
  assertUint(fCnt, 'fCnt', 0xffffffff);
  assertBytes(payload, 'payload');
  const out = new Uint8Array(payload.length);
  for (let i = 0; 16 * i < payload.length; i++) {
    const s = aesEncryptBlock(key, block(0x01, dir === 'up' ? 0 : 1, devAddr, fCnt, i + 1));
    for (let j = 0; j < 16 && 16 * i + j < payload.length; j++) out[16 * i + j] = payload[16 * i + j]! ^ s[j]!;
  }
  return out;
}

/** The 1.0.x data MIC (§4.4): CMAC(NwkSKey, B0 ‖ msg)[0..3], msg = MHDR … FRMPayload. */
export function dataMic(nwkSKey: Bytes, dir: 'up' | 'down', devAddr: Bytes, fCnt: number, msg: Bytes): Bytes {
  assertBytes(nwkSKey, 'nwkSKey', 16);
  assertBytes(devAddr, 'devAddr', 4);
  assertUint(fCnt, 'fCnt', 0xffffffff);
  assertBytes(msg, 'msg');
  if (msg.length === 0 || msg.length > 255) throw new RangeError(`msg: expected 1..255 bytes, got length=${msg.length}`);
  const input = new Uint8Array(16 + msg.length);
  input.set(block(0x49, dir === 'up' ? 0 : 1, devAddr, fCnt, msg.length));
  input.set(msg, 16);
  return mic4(nwkSKey, input);
}

export interface UplinkFields extends SessionKeys {
  devAddr: Bytes;
  /** The full 32-bit FCntUp; the low 16 bits go on air. */
  fCnt: number;
  /** null: no FPort and no FRMPayload. 0: MAC commands, encrypted with NwkSKey. */
  fPort: number | null;
  payload: Bytes;
  confirmed: boolean;
  fOpts?: Bytes | null;
  adr?: boolean;
  adrAckReq?: boolean;
  ack?: boolean;
}

/** MHDR ‖ DevAddr ‖ FCtrl ‖ FCnt ‖ FOpts ‖ [FPort ‖ FRMPayload] ‖ MIC (§4.3). */
export function encodeUplink(f: UplinkFields): Bytes {
  assertBytes(f.devAddr, 'devAddr', 4);
  assertUint(f.fCnt, 'fCnt', 0xffffffff);
  assertBytes(f.payload, 'payload');
  const fOpts = f.fOpts ?? new Uint8Array(0);
  assertBytes(fOpts, 'fOpts');
  if (fOpts.length > 15) throw new RangeError(`fOpts: at most 15 bytes, got length=${fOpts.length}`);
  if (f.fPort !== null) assertUint(f.fPort, 'fPort', 255);
  if (f.fPort === 0 && fOpts.length > 0) throw new RangeError('fOpts: not allowed with fPort 0 (LoRaWAN 1.0.4 §4.3.1.6)');
  if (f.fPort === null && f.payload.length > 0) throw new RangeError('payload: a frame without fPort carries no payload');
  const msgLen = 8 + fOpts.length + (f.fPort === null ? 0 : 1 + f.payload.length);
  if (msgLen + 4 > MAX_PHY_PAYLOAD) throw new RangeError(`payload: the frame would be ${msgLen + 4} bytes (a LoRa packet carries at most ${MAX_PHY_PAYLOAD})`);
  const out = new Uint8Array(msgLen + 4);
  out[0] = f.confirmed ? MTYPE_CONFIRMED_UP : MTYPE_UNCONFIRMED_UP;
  out.set(reversed(f.devAddr), 1);
  out[5] = (f.adr ? 0x80 : 0) | (f.adrAckReq ? 0x40 : 0) | (f.ack ? 0x20 : 0) | fOpts.length;
  putLe(out, 6, f.fCnt & 0xffff, 2);
  out.set(fOpts, 8);
  if (f.fPort !== null) {
    out[8 + fOpts.length] = f.fPort;
    out.set(cryptFrmPayload(f.fPort === 0 ? f.nwkSKey : f.appSKey, 'up', f.devAddr, f.fCnt, f.payload), 9 + fOpts.length);
  }
  out.set(dataMic(f.nwkSKey, 'up', f.devAddr, f.fCnt, out.subarray(0, msgLen)), msgLen);
  return out;
}

export interface DownlinkOpened {
  ok: true;
  confirmed: boolean;
  adr: boolean;
  ack: boolean;
  fPending: boolean;
  fCnt16: number;
  fOpts: Bytes;
  fPort: number | null;
  payload: Bytes;
}

/** The low 16 bits of a data downlink's FCnt, or -1 when it is not one for `devAddr` (to rebuild FCntDown before opening). */
export function peekDownlinkFCnt(devAddr: Bytes, phyPayload: Bytes): number {
  if (phyPayload.length < 12 || (phyPayload[0] !== MTYPE_UNCONFIRMED_DOWN && phyPayload[0] !== MTYPE_CONFIRMED_DOWN)) return -1;
  for (let i = 0; i < 4; i++) if (phyPayload[1 + i] !== devAddr[3 - i]) return -1;
  return getLe(phyPayload, 6, 2);
}

/**
 * Opens a data downlink whose full 32-bit counter is `fCntDown` (rebuilt by the caller from the
 * 16 bits on air): checks the address, the counter's low bits and the MIC, then decrypts.
 * Untrusted input: never throws.
 */
export function openDownlink(keys: SessionKeys & { devAddr: Bytes }, fCntDown: number, phyPayload: Bytes): DownlinkOpened | FrameRefused {
  assertBytes(keys.devAddr, 'devAddr', 4);
  assertUint(fCntDown, 'fCntDown', 0xffffffff);
  assertBytes(phyPayload, 'phyPayload');
  const n = phyPayload.length;
  if (n < 12) return refused('lorawan/length', `a data frame is at least 12 bytes, got ${n}`);
  const mhdr = phyPayload[0]!;
  if (mhdr !== MTYPE_UNCONFIRMED_DOWN && mhdr !== MTYPE_CONFIRMED_DOWN) return refused('lorawan/mtype', `MHDR 0x${mhdr.toString(16).padStart(2, '0')} is not a data downlink`);
  for (let i = 0; i < 4; i++) if (phyPayload[1 + i] !== keys.devAddr[3 - i]) return refused('lorawan/dev-addr', 'the downlink is for another DevAddr');
  const fCtrl = phyPayload[5]!;
  const fOptsLen = fCtrl & 15;
  const msgLen = n - 4;
  if (8 + fOptsLen > msgLen) return refused('lorawan/length', `FOptsLen ${fOptsLen} runs past the frame`);
  const fCnt16 = getLe(phyPayload, 6, 2);
  if (fCnt16 !== (fCntDown & 0xffff)) return refused('lorawan/fcnt', `FCnt ${fCnt16} on air is not the low 16 bits of ${fCntDown}`);
  if (!equal4(dataMic(keys.nwkSKey, 'down', keys.devAddr, fCntDown, phyPayload.subarray(0, msgLen)), phyPayload.subarray(msgLen))) {
    return refused('lorawan/mic', 'downlink MIC does not match');
  }
  const hasPort = msgLen > 8 + fOptsLen;
  const fPort = hasPort ? phyPayload[8 + fOptsLen]! : null;
  if (fPort === 0 && fOptsLen > 0) return refused('lorawan/fopts', 'FOpts and FPort 0 in one frame (§4.3.1.6)');
  const body = hasPort ? phyPayload.subarray(9 + fOptsLen, msgLen) : new Uint8Array(0);
  return {
    ok: true,
    confirmed: mhdr === MTYPE_CONFIRMED_DOWN,
    adr: (fCtrl & 0x80) !== 0,
    ack: (fCtrl & 0x20) !== 0,
    fPending: (fCtrl & 0x10) !== 0,
    fCnt16,
    fOpts: phyPayload.slice(8, 8 + fOptsLen),
    fPort,
    payload: body.length > 0 ? cryptFrmPayload(fPort === 0 ? keys.nwkSKey : keys.appSKey, 'down', keys.devAddr, fCntDown, body) : new Uint8Array(0),
  };
}
