/**
 * @sceau/simulator: deterministic, virtual-time fleets of sceau devices over modelled low-rate
 * links, with attacks, against a gateway in-process, over HTTP or over UDP; and wall-clock
 * LoRaWAN fleets behind GWMP gateways for real network servers (docs/simulator.md). The one
 * public entry of the package.
 */
export { Prng } from './prng.js';
export { parseDuration, formatDuration } from './duration.js';
export { EventQueue } from './event-queue.js';
export type { Scheduled } from './event-queue.js';
export { SensorModel, SENSOR_CHANNELS, SENSOR_KINDS, BOOT_CHANNEL } from './sensors.js';
export type { SensorKind } from './sensors.js';
export { RadioScheduler, LinkAuditor, deliveries, EU868_CHANNELS, BASE_LATENCY_MS, subBandCount } from './link-model.js';
export type { Impairments, Violation } from './link-model.js';
export {
  ATTACK_KINDS,
  GROUP_DEFAULTS,
  DEFAULT_START,
  parseAttacks,
  parseOutage,
  resolveScenario,
  loadScenarioFile,
  chooseBatch,
  frameCost,
  worstRecordBytes,
  parseRecordVersion,
  RECORD_VERSIONS,
} from './config.js';
export type { AttackKind, AttackRates, OutageWindow, GroupConfig, SimulationConfig, GroupInput, ScenarioInput, BatchChoice, RecordVersion } from './config.js';
export { deviceContentKey, sealVersioned, wrapContentKeys, writeWrappedKeys, WRAPPED_KEYS_FILE } from './content-keys.js';
export type { ContentKeyHolder } from './content-keys.js';
export type { FrameSink, SinkOutcome, DatagramMeta, DeviceRegistration } from './frame-sink.js';
export { HostToolsGatewaySink } from './host-tools-gateway.js';
export type { HostToolsGatewayOptions } from './host-tools-gateway.js';
export { HttpSink, UdpSink, GatewayError, networkSink, outcomeFromJson } from './network-sinks.js';
export { Attacker, tamperFrame, drawAttacks } from './attacks.js';
export type { AttackFrame, AttackTransmission } from './attacks.js';
export { Simulation, runSimulation } from './simulation.js';
export { deviceSecret, sourceOf } from './device-model.js';
export { Scoreboard, newFrameTrack } from './scoreboard.js';
export type { Arrival, AttackStats, AttackTrack, Closing, FrameTrack, LostReason, Role, Score } from './scoreboard.js';
export { CaptureWriter } from './capture.js';
export { loadFirmwareVm } from './firmware-vm.js';
export type { FirmwareReport, FirmwareVmDevice, FirmwareVmModule, FirmwareVmStartOptions } from './firmware-vm.js';
export type { RunResult, RunOptions } from './simulation.js';
export type { Summary, LostBreakdown, GroupReport, RecordVersionTally, ByRecordVersion } from './scoreboard.js';
export { formatSummary, formatJunit } from './report.js';
export { main as simCli, USAGE as SIM_USAGE, EXIT } from './cli.js';
export type { CliIo } from './cli.js';

// The wall-clock LoRaWAN side (`sceau sim lorawan`, `sceau lns`; docs/simulator.md): frames,
// GWMP gateways, the fleet and its registration files, the device MAC, payload formatters.
export {
  aesEncryptBlock,
  aesCmac,
  encodeJoinRequest,
  deriveSessionKeys10,
  openJoinAccept,
  cryptFrmPayload,
  dataMic,
  encodeUplink,
  peekDownlinkFCnt,
  openDownlink,
  MTYPE_JOIN_REQUEST,
  MTYPE_JOIN_ACCEPT,
  MTYPE_UNCONFIRMED_UP,
  MTYPE_UNCONFIRMED_DOWN,
  MTYPE_CONFIRMED_UP,
  MTYPE_CONFIRMED_DOWN,
  MAX_PHY_PAYLOAD,
} from './lorawan-frames.js';
export type { LorawanFrameCode, FrameRefused, JoinRequestFields, SessionKeys, JoinAccepted, UplinkFields, DownlinkOpened } from './lorawan-frames.js';
export { LorawanMac, CID, MAX_FOPTS, ADR_ACK_LIMIT, ADR_ACK_DELAY, GPS_EPOCH_UNIX_MS, GPS_LEAP_SECONDS } from './lorawan-mac.js';
export type { MacRegionName, UplinkChannel, RxWindow, UplinkMac, UplinkFlags, LorawanMacOptions, MacCounts, QueuedAnswer } from './lorawan-mac.js';
export { GwmpGateway, GwmpError, parseHostPort, GWMP_VERSION, PUSH_DATA, PUSH_ACK, PULL_DATA, PULL_RESP, PULL_ACK, TX_ACK, MAX_TX_ADVANCE_US } from './gwmp-gateway.js';
export type { RxPacket, Emission, TxAckError, GwmpStats, GwmpGatewayOptions } from './gwmp-gateway.js';
export { makeFleet, registrationEntries, writeRegistration, parseDevAddrPrefix, insideGitWorkTree, localEui, FleetState, DEVICES_FILE, STATE_FILE, LORAWAN_GROUP } from './lorawan-fleet.js';
export type { Activation, LorawanDevice, RegistrationEntry, DeviceState } from './lorawan-fleet.js';
export { runLorawan, lorawanLink, localEuiFor, SCEAU_FPORT, JOIN_ACCEPT_DELAY_MS, RX_WINDOW_TOLERANCE_MS, THRESHOLDS } from './lorawan-live.js';
export type { LorawanRunOptions, LorawanSummary } from './lorawan-live.js';
export { LorawanFirmwareVms, LORAWAN_SYNC_WORD, AIR_LEAD_MS, OFFER_HORIZON_MS, MAX_LAG_MS, BUSY_WAIT_MS } from './lorawan-vm.js';
export type { FirmwareVmsSummary, LorawanVmOptions, VmUplink } from './lorawan-vm.js';
export { lorawanMain, LORAWAN_USAGE } from './lorawan-cli.js';
export type { LorawanCliIo } from './lorawan-cli.js';
export { lnsMain, LNS_USAGE } from './lorawan-cli.js';
export { ttsDevices, chirpstackImport, chirpstackScript, csvDevices, parseRegistration, generateFormatter, deviceId } from './lorawan-lns.js';
export type { LnsFormat, ChirpstackImport } from './lorawan-lns.js';
