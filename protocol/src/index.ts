/**
 * @sceau/protocol: the sceau wire format, record versions 1 and 2 (docs/protocol.md). Pure TypeScript with no
 * Node imports: it runs in Node and in browsers.
 */
export type { Bytes } from './bytes.js';
export { toHex, fromHex, parseHex, concatBytes, equalBytes } from './bytes.js';
export type { CborItem, CborParse } from './cbor-reader.js';
export { parseCbor } from './cbor-reader.js';
export { CborWriter } from './cbor-writer.js';
export { cborDiagnostic } from './cbor-diagnostic.js';
export type { Channel } from './channels.js';
export { channels, ChannelRegistry, FIRST_USER_CHANNEL } from './channels.js';
export type { Reading, SceauRecord, DecodeRecordResult } from './record.js';
export { encodeRecord, decodeRecord, RECORD_VERSION, MAX_UINT, MIN_INT } from './record.js';
export type { SceauRecordV2, PlainRecord, DecodeRecordV2Result, OpenReadingsResult } from './record-v2.js';
export {
  encodeRecordV2,
  recordV2FromItem,
  openRecordReadings,
  encryptedReadingsBytes,
  contentBaseIv,
  contentNonce,
  readingsAad,
  RECORD_VERSION_2,
  OPERATIONAL_CHANNELS,
  CONTENT_KEY_BYTES,
} from './record-v2.js';
export { aesCcmEncrypt, aesCcmDecrypt, CCM_NONCE_BYTES, CCM_TAG_BYTES } from './aes-ccm.js';
export { encStructure, encrypt0Size, COSE_ENCRYPT0_TAG, ALG_AES_CCM_16_64_256, PROTECTED_AES_CCM_16_64_256 } from './cose-encrypt0.js';
export type { FrameInspection, InspectedReading } from './inspect-frame.js';
export { inspectFrame } from './inspect-frame.js';
export type { Ed25519Backend } from './ed25519.js';
export {
  sha256,
  getPublicKey,
  signEd25519,
  verifyEd25519,
  verifyEd25519Async,
  kidOf,
  cryptoBackend,
  useCryptoBackend,
  nodeBackend,
  nobleBackend,
  SMALL_ORDER_ENCODINGS,
  publicKeyIsAcceptable,
} from './ed25519.js';
export type { HeaderLabel, HeaderMap, VerifySign1Result } from './cose-sign1.js';
export { verifySign1, sigStructure, COSE_SIGN1_TAG, ALG_EDDSA, ALG_ED25519, HEADER_ALG, HEADER_KID } from './cose-sign1.js';
export type { SealOptions } from './seal.js';
export { sealRecord, sealRecordV2, frameSize, PROTECTED_EDDSA } from './seal.js';
export type { VerificationCode, Sign1Code } from './codes.js';
export { VERIFICATION_CODES, codeAnchor } from './codes.js';
export type { CodeDoc } from './code-docs.js';
export { CODE_DOCS } from './code-docs.js';
export type { Keyring, KeyringEntry, KeyQuery } from './keyring.js';
export { MemoryKeyring } from './keyring.js';
export type { ReplayState, ReplayWindowStore } from './replay-window.js';
export { ReplayWindow, ReplayWindows, REPLAY_WINDOW_SIZE } from './replay-window.js';
export type { VerifyFrameOptions, VerifyResult, FrameAccepted, FrameRejected, DatedReading } from './verify-frame.js';
export { verifyFrame, verifyFrameAsync, checkReplayWindow, DEFAULT_MAX_FRAME_BYTES } from './verify-frame.js';
export type { CanonicalFrame } from './frame-layout.js';
export { readCanonicalFrame, readCanonicalRecord } from './frame-layout.js';
export type { LinkProfile, LoraRadio, SigfoxRadio } from './link-profiles.js';
export { linkProfiles, linkProfile, airtimeMs, loraAirtimeMs } from './link-profiles.js';
export type { FragmentOptions, ReassemblerOptions, PushResult, ReassemblerStats, ReassemblyDropReason } from './fragmentation.js';
export { fragment, fragmentCapacity, maxFrameBytes, Reassembler, MAX_FRAGMENTS, SENDER_HINT_BYTES, REASSEMBLY_DROP_REASONS } from './fragmentation.js';
