/** The wall-clock LoRaWAN side of the simulator (`sceau sim lorawan`, docs/simulator.md). */
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
export { runLorawan, regionPlan, localEuiFor, SCEAU_FPORT, JOIN_ACCEPT_DELAY_MS, RX_WINDOW_TOLERANCE_MS, THRESHOLDS } from './lorawan-live.js';
export type { LorawanRunOptions, LorawanSummary, RegionPlan } from './lorawan-live.js';
export { lorawanMain, LORAWAN_USAGE } from './lorawan-cli.js';
export type { LorawanCliIo } from './lorawan-cli.js';
export { lnsMain, LNS_USAGE } from './lorawan-cli.js';
export { ttsDevices, chirpstackImport, chirpstackScript, csvDevices, parseRegistration, generateFormatter, deviceId } from './lorawan-lns.js';
export type { LnsFormat, ChirpstackImport } from './lorawan-lns.js';
