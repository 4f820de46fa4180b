/**
 * @sceau/simulator: deterministic, virtual-time fleets of sceau devices over modelled low-rate
 * links, with attacks, against a gateway in-process, over HTTP or over UDP (docs/simulator.md).
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
} from './config.js';
export type { AttackKind, AttackRates, OutageWindow, GroupConfig, SimulationConfig, GroupInput, ScenarioInput, BatchChoice } from './config.js';
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
export type { Summary, LostBreakdown, GroupReport } from './scoreboard.js';
export { formatSummary, formatJunit } from './report.js';
export { main as simCli, USAGE as SIM_USAGE, EXIT } from './cli.js';
export type { CliIo } from './cli.js';
export * from './lorawan-index.js';
