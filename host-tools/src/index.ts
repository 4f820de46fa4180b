/**
 * @sceau/host-tools: the `sceau` CLI and the gateway, as a library. The simulator uses
 * `startGateway` in-process; integrators can embed the store, the parsers and the pipeline.
 */
export type { Gateway, GatewayOptions, GatewayAddresses, Endpoint } from './gateway.js';
export { startGateway, parseEndpoint, readTokenFile, DEFAULT_HTTP_PORT, DEFAULT_TCP_PORT, DEFAULT_UDP_PORT, DEFAULT_BUSY_TIMEOUT_MS } from './gateway.js';
export { DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_BATCH, DEFAULT_HTTP_MAX_CONNECTIONS, DEFAULT_HEADERS_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS } from './gateway-http.js';
export { DEFAULT_TCP_MAX_CONNECTIONS, DEFAULT_TCP_FRAME_TIMEOUT_MS } from './gateway-tcp.js';
export type { GatewayReassemblerOptions, GatewayReassemblerStats, ReassemblyDropReason } from './gateway-reassembly.js';
export { GatewayReassembler, REASSEMBLY_DROP_REASONS, DEFAULT_REASSEMBLY_MAX_BYTES, DEFAULT_REASSEMBLY_MAX_PENDING, DEFAULT_REASSEMBLY_MAX_PER_ORIGIN } from './gateway-reassembly.js';
export type { IngestOptions, IngestResult, IngestorOptions, NotStoredReason } from './ingest.js';
export { Ingestor, NotStoredError, isRefusal, isLockError } from './ingest.js';
export type { WriteDone, SyncFile } from './store-writer.js';
export { StoreWriter, syncFileData } from './store-writer.js';
export type { FrameColumns } from './frame-batch.js';
export { FrameBatch } from './frame-batch.js';
export type { Device, FrameRow, ReadingRow, ReadingFilter, FrameToStore, StoredReading, StoreOptions } from './store.js';
export { Store, SqliteReplayWindows, normalizeDevEui } from './store.js';
export { devEuiDeviceId, devEuiOf } from './device-identity.js';
export type { DeviceRecord, Difference, KeyState, Registration, RegisterOptions, RegistryCode, Resolved } from './device-registry.js';
export { DeviceRegistry, RegistryError, REGISTRY_CODES, STORED_OUTCOMES, checkDeviceName, checkRegistrationKey } from './device-registry.js';
export type { BulkEntry } from './device-bulk.js';
export { readBulkEntries } from './device-bulk.js';
export type { InputFormat, InputItem } from './formats.js';
export { INPUT_FORMATS, parseInput, detectFormat, parseTtsUplink, parseChirpstackUplink, parseFrameObject, decodeText } from './formats.js';
export type { FrameOutcome, UnitReading } from './outcome.js';
export { describeResult, formatOutcomeLine, toUnitReading } from './outcome.js';
export { Metrics } from './metrics.js';
export type { ExportFormat, ExportFilter } from './export.js';
export { exportReadings, EXPORT_FORMATS, parseTimeArg } from './export.js';
export type { GeneratedKey } from './key-files.js';
export { generateSeed, writeKeyPair, readSecretKey, readPublicKey, parseSecretKey, parsePublicKey, seedToPem } from './key-files.js';
export type { KeyLine } from './provision.js';
export type { WriteKeyOptions, WrittenKey } from './provision.js';
export { KEY_LINE_RE, parseKeyLine, keyLinesOfText, FIRMWARE_KEY_SETTING, writeFirmwareKey, seedInSettings } from './provision.js';
export { planFlash, boardFamily, BOARDS } from './flash.js';
export { runCli, buildProgram, parseReadingArg } from './cli.js';
export { EXIT, SceauError } from './errors.js';
export { StoreError, STORE_ERROR_CODES } from './store-errors.js';
export type { StoreErrorCode } from './store-errors.js';
export { MIGRATIONS, migrateSqlite, SCHEMA_VERSION } from './store-migrations.js';
export type { Migration } from './store-migrations.js';
export type { IngestStore, QueryStore, AcceptedFrame, CommitDone, FrameFilter } from './store-interface.js';
export type { TransportDefinition, TransportContext, StartedTransport } from './transport-registry.js';
export { registerTransport, unregisterTransport, registeredTransports } from './transport-registry.js';
export type { DatagramIntake, DatagramMeta } from './datagram-intake.js';
