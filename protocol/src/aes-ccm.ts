import { cbc, ctr } from '@noble/ciphers/aes.js';
import { type Bytes, assertBytes } from './bytes.js';

/**
 * AES-CCM (RFC 3610, NIST SP 800-38C) with a 13-byte nonce (L = 2, so messages up to 65,535
 * bytes) and an 8-byte tag: COSE's AES-CCM-16-64-128/256 (RFC 9053 §4.2). Built from AES-CBC
 * (the CBC-MAC) and AES-CTR of @noble/ciphers, which has no CCM; pure TypeScript, Node and browsers.
 */
export const CCM_NONCE_BYTES = 13;
export const CCM_TAG_BYTES = 8;
const L = 15 - CCM_NONCE_BYTES; // bytes of the length field
const MAX_MESSAGE = 0xffff;

function checkInputs(key: Bytes, nonce: Bytes, aad: Bytes, text: Bytes, what: string): void {
  assertBytes(key, 'key');
  if (key.length !== 16 && key.length !== 32) throw new TypeError(`key: expected 16 or 32 bytes, got ${key.length}`);
  assertBytes(nonce, 'nonce', CCM_NONCE_BYTES);
  assertBytes(aad, 'aad');
  assertBytes(text, what);
}

/** CBC-MAC of B0 ‖ encoded AAD ‖ message, each part zero-padded to 16 bytes: the full last block. */
function cbcMac(key: Bytes, nonce: Bytes, aad: Bytes, message: Bytes): Bytes {
  const aadHead = aad.length === 0 ? 0 : aad.length < 0xff00 ? 2 : 6;
  const aadPart = Math.ceil((aadHead + aad.length) / 16) * 16;
  const input = new Uint8Array(16 + aadPart + Math.ceil(message.length / 16) * 16);
  input[0] = (aad.length > 0 ? 0x40 : 0) | (((CCM_TAG_BYTES - 2) / 2) << 3) | (L - 1);
  input.set(nonce, 1);
  input[14] = message.length >>> 8;
  input[15] = message.length & 0xff;
  if (aadHead === 2) {
    input[16] = aad.length >>> 8;
    input[17] = aad.length & 0xff;
  } else if (aadHead === 6) {
    input.set([0xff, 0xfe, aad.length >>> 24, (aad.length >>> 16) & 0xff, (aad.length >>> 8) & 0xff, aad.length & 0xff], 16);
  }
  input.set(aad, 16 + aadHead);
  input.set(message, 16 + aadPart);
  const chained = cbc(key, new Uint8Array(16), { disablePadding: true }).encrypt(input);
  return chained.subarray(chained.length - 16);
}

/** The counter block A0 (flags L-1, nonce, counter 0); AES-CTR from it gives S0, S1, ... */
function counterBlock0(nonce: Bytes): Bytes {
  const a0 = new Uint8Array(16);
  a0[0] = L - 1;
  a0.set(nonce, 1);
  return a0;
}

/** Ciphertext ‖ 8-byte tag. Throws `TypeError`/`RangeError` on a bad key, nonce or oversize message. */
export function aesCcmEncrypt(key: Bytes, nonce: Bytes, aad: Bytes, plaintext: Bytes): Bytes {
  checkInputs(key, nonce, aad, plaintext, 'plaintext');
  if (plaintext.length > MAX_MESSAGE) throw new RangeError(`plaintext: at most ${MAX_MESSAGE} bytes with a 13-byte nonce`);
  const input = new Uint8Array(16 + plaintext.length);
  input.set(cbcMac(key, nonce, aad, plaintext));
  input.set(plaintext, 16);
  // CTR from A0: the MAC block meets S0, the plaintext S1, S2, ...
  const stream = ctr(key, counterBlock0(nonce)).encrypt(input);
  const out = new Uint8Array(plaintext.length + CCM_TAG_BYTES);
  out.set(stream.subarray(16));
  out.set(stream.subarray(0, CCM_TAG_BYTES), plaintext.length);
  return out;
}

/** The plaintext, or undefined when the tag does not check (wrong key, nonce, AAD or altered bytes). */
export function aesCcmDecrypt(key: Bytes, nonce: Bytes, aad: Bytes, sealed: Bytes): Bytes | undefined {
  checkInputs(key, nonce, aad, sealed, 'sealed');
  if (sealed.length < CCM_TAG_BYTES || sealed.length - CCM_TAG_BYTES > MAX_MESSAGE) return undefined;
  const textLength = sealed.length - CCM_TAG_BYTES;
  const input = new Uint8Array(16 + textLength);
  input.set(sealed.subarray(0, textLength), 16);
  const stream = ctr(key, counterBlock0(nonce)).decrypt(input); // first block: S0 itself
  const plaintext = stream.slice(16);
  const mac = cbcMac(key, nonce, aad, plaintext);
  let diff = 0;
  for (let i = 0; i < CCM_TAG_BYTES; i++) diff |= (mac[i]! ^ stream[i]!) ^ sealed[textLength + i]!;
  return diff === 0 ? plaintext : undefined;
}
