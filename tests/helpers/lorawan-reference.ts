// An independent LoRaWAN 1.0.x reference for the differential test of the firmware's frame coding,
// written from the specifications (FIPS-197 through node:crypto, RFC 4493, LoRaWAN L2 1.0.4
// sections 4 and 6). It shares no code with firmware/src. Network-server side included (the
// join-accept is encrypted with AES *decrypt*, downlinks are encoded), to produce frames for the device.
import { createCipheriv, createDecipheriv } from 'node:crypto';

const ecb = (key: Buffer, block: Buffer, decrypt = false): Buffer => {
  const alg = `aes-${key.length * 8}-ecb`;
  const c = decrypt ? createDecipheriv(alg, key, null) : createCipheriv(alg, key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(block), c.final()]);
};
export const aes = (key: Buffer, block: Buffer): Buffer => ecb(key, block);

// RFC 4493: subkeys by doubling in GF(2^128), last block XOR K1 (complete) or padded XOR K2
const dbl = (b: Buffer): Buffer => {
  const o = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) o[i] = ((b[i]! << 1) | (i < 15 ? b[i + 1]! >> 7 : 0)) & 255;
  if (b[0]! & 0x80) o[15]! ^= 0x87;
  return o;
};
export function cmac(key: Buffer, msg: Buffer): Buffer {
  const k1 = dbl(aes(key, Buffer.alloc(16)));
  const k2 = dbl(k1);
  const n = Math.max(1, Math.ceil(msg.length / 16));
  const complete = msg.length > 0 && msg.length % 16 === 0;
  let x: Buffer = Buffer.alloc(16);
  for (let i = 0; i < n; i++) {
    let block = msg.subarray(16 * i, 16 * i + 16);
    if (i === n - 1) {
      const padded = Buffer.alloc(16);
      block.copy(padded);
      if (!complete) padded[block.length] = 0x80;
      const k = complete ? k1 : k2;
      for (let j = 0; j < 16; j++) padded[j]! ^= k[j]!;
      block = padded;
    }
    const y = Buffer.alloc(16);
    for (let j = 0; j < 16; j++) y[j] = x[j]! ^ block[j]!;
    x = aes(key, y);
  }
  return x;
}

const le = (hexBe: string): Buffer => Buffer.from(hexBe, 'hex').reverse();
const u32le = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};

export function joinRequest(appKey: string, joinEui: string, devEui: string, devNonce: string): string {
  const msg = Buffer.concat([Buffer.from([0x00]), le(joinEui), le(devEui), le(devNonce)]);
  return Buffer.concat([msg, cmac(Buffer.from(appKey, 'hex'), msg).subarray(0, 4)]).toString('hex');
}

/** Network side: the join-accept on air (MIC over the plain fields, then AES decrypt of the rest). */
export function encodeJoinAccept(appKey: string, f: { joinNonce: string; netId: string; devAddr: string; dlSettings: number; rxDelay: number; cfList: string | null }): string {
  const key = Buffer.from(appKey, 'hex');
  const plain = Buffer.concat([
    Buffer.from([0x20]), le(f.joinNonce), le(f.netId), le(f.devAddr), Buffer.from([f.dlSettings, f.rxDelay]),
    f.cfList === null ? Buffer.alloc(0) : Buffer.from(f.cfList, 'hex'),
  ]);
  const body = Buffer.concat([plain.subarray(1), cmac(key, plain).subarray(0, 4)]);
  return Buffer.concat([Buffer.from([0x20]), ecb(key, body, true)]).toString('hex');
}

export function sessionKeys(appKey: string, joinNonce: string, netId: string, devNonce: string) {
  const derive = (type: number) =>
    aes(Buffer.from(appKey, 'hex'), Buffer.concat([Buffer.from([type]), le(joinNonce), le(netId), le(devNonce), Buffer.alloc(7)])).toString('hex');
  return { nwkSKey: derive(1), appSKey: derive(2) };
}

/** FRMPayload keystream XOR (section 4.3.3); the same for both directions of the operation. */
export function frmPayload(key: string, dir: number, devAddr: string, fCnt: number, data: Buffer): Buffer {
  const out = Buffer.alloc(data.length);
  for (let i = 0; i * 16 < data.length; i++) {
    const a = Buffer.concat([Buffer.from([1, 0, 0, 0, 0, dir]), le(devAddr), u32le(fCnt), Buffer.from([0, i + 1])]);
    const s = aes(Buffer.from(key, 'hex'), a);
    for (let j = 0; j < 16 && 16 * i + j < data.length; j++) out[16 * i + j] = data[16 * i + j]! ^ s[j]!;
  }
  return out;
}

export function dataMic(nwkSKey: string, dir: number, devAddr: string, fCnt: number, msg: Buffer): Buffer {
  const b0 = Buffer.concat([Buffer.from([0x49, 0, 0, 0, 0, dir]), le(devAddr), u32le(fCnt), Buffer.from([0, msg.length])]);
  return cmac(Buffer.from(nwkSKey, 'hex'), Buffer.concat([b0, msg])).subarray(0, 4);
}

export interface DataFrame {
  nwkSKey: string; appSKey: string; devAddr: string; fCnt: number; fPort: number | null; payload: string;
  confirmed: boolean; fOpts?: string | null; adr?: boolean; ack?: boolean; adrAckReq?: boolean; fPending?: boolean;
}

/** A data frame on air: uplink (dir 0) or downlink (dir 1). */
export function encodeData(dir: 0 | 1, f: DataFrame): string {
  const fOpts = Buffer.from(f.fOpts ?? '', 'hex');
  const mhdr = dir === 0 ? (f.confirmed ? 0x80 : 0x40) : f.confirmed ? 0xa0 : 0x60;
  const fctrl = (f.adr ? 0x80 : 0) | (f.adrAckReq ? 0x40 : 0) | (f.ack ? 0x20 : 0) | (f.fPending ? 0x10 : 0) | fOpts.length;
  const fcnt = Buffer.alloc(2);
  fcnt.writeUInt16LE(f.fCnt & 0xffff);
  const parts = [Buffer.from([mhdr]), le(f.devAddr), Buffer.from([fctrl]), fcnt, fOpts];
  if (f.fPort !== null) {
    const key = f.fPort === 0 ? f.nwkSKey : f.appSKey;
    parts.push(Buffer.from([f.fPort]), frmPayload(key, dir, f.devAddr, f.fCnt, Buffer.from(f.payload, 'hex')));
  }
  const msg = Buffer.concat(parts);
  return Buffer.concat([msg, dataMic(f.nwkSKey, dir, f.devAddr, f.fCnt, msg)]).toString('hex');
}
