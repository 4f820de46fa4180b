// Firmware configuration. Boards and tests build with their own copy of this file
// (scripts/build.mjs can replace it for one build); values here are the defaults.

/** Milliseconds between two samplings of the sensors. */
export const SAMPLE_INTERVAL_MS = 60000
/** Sampling rounds batched into one record at most (each reading carries its age). */
export const BATCH_SIZE = 1
/** Counter values reserved per settings write (a power cut skips at most this many). */
export const COUNTER_BLOCK = 16
/** LoRaWAN FCnt up values reserved per settings write (src/lorawan-state.ts). */
export const LORAWAN_FCNT_BLOCK = 16
/** Put the kid in the unprotected header (false where the transport names the device). */
export const WITH_KID: boolean = true
/** Give up on a settings read or write after this long (the settings server may be absent). */
export const SETTINGS_TIMEOUT_MS = 5000
/** Stop after this many frames sent (0 = run forever); used by tests. */
export const MAX_FRAMES = 0
/** "console" (hex lines), "tcp" (2-byte big-endian length + datagram, the gateway's TCP ingest),
 * "lora" (raw LoRa packets), "lorawan" (LoRaWAN 1.0.4 class A through a network server; the VM
 * entry's "lorawan-fake" is the same link on the fake SX1276, for tests). */
export const LINK: string = "console"
/** Largest datagram of the link; frames above it are cut into fragments (design: Link). */
export const LINK_MTU = 65535
/** Whether the transport names the sender (if not, fragments carry a 2-byte sender hint). */
export const LINK_IDENTIFIES_SENDER: boolean = true
export const TCP_HOST: string = "127.0.0.1"
export const TCP_PORT = 4700
/** Batches held while the link is down; when full, the oldest are merged, then dropped. */
export const QUEUE_MAX = 8
/** Boards: the I2C climate sensor, "sht30" (also SHT31), "shtc3" or "aht20". */
export const SENSOR: string = "sht30"
/** Boards: give up on a sensor read after this long (the reading is skipped). */
export const SENSOR_TIMEOUT_MS = 2000
/** LoRa link (LINK = "lora"): "sx1276" (SX127x family) or "sx1262" (SX126x family). */
export const LORA_CHIP: string = "sx1276"
export const LORA_FREQ_HZ = 868100000
export const LORA_SF = 7
export const LORA_BW_HZ = 125000
/** coding rate 4/(4+LORA_CR) */
export const LORA_CR = 1
export const LORA_POWER_DBM = 14
/** 0x12: private LoRa network (raw LoRa packets, not LoRaWAN) */
export const LORA_SYNC_WORD = 0x12
/** Fraction of time on air allowed (EU868 sub-band g1: 1%). */
export const LORA_DUTY_CYCLE = 0.01
/** Longest wait for the duty cycle before a send is postponed (the data stays queued). */
export const LORA_MAX_WAIT_MS = 60000
/** VM entry (src/main.ts): "builtin" simulated climate, or "jacdac": temperature and humidity
 * roles served by the host (scripts/jd-sensors.mjs), whose values a host program sets. */
export const VM_SENSORS: string = "builtin"
/** LoRaWAN (LINK = "lorawan"): the regional parameters, "EU868" or "US915". */
export const LORAWAN_REGION: string = "EU868"
/** US915: the sub-band of the gateways (1..8; The Things Network and most US gateways use 2), 0 for all 64 + 8 channels. */
export const LORAWAN_SUB_BAND = 2
/** The first join-request's data rate (-1: the region's default, EU868 DR5, US915 DR0); two failed attempts step it down by one. */
export const LORAWAN_JOIN_DR = -1
/** ABP: the data rate and RX1 delay (seconds) until the network changes them (LoRaWAN default RX1 delay: 1 s). */
export const LORAWAN_ABP_DR = 0
export const LORAWAN_ABP_RX1_DELAY_S = 1
/** N: after this many uplinks without any downlink the session counts as lost and an OTAA device rejoins;
 * from N/2 on, each uplink asks for LinkCheckAns (besides ADRACKReq from ADR_ACK_LIMIT = 64 on). */
export const LORAWAN_REJOIN_AFTER = 128
/** RX2's data rate before the network sets one (-1: the region's default, EU868 DR0 = SF12; The Things
 * Network's EU868 plan uses DR3 = SF9, also for join-accepts): the join-accept's RX2 and ABP's RX2. */
export const LORAWAN_RX2_DR = -1
/** Worst timing error of the receive windows (ms): each opens this much early and stays this much longer. */
export const LORAWAN_RX_ERROR_MS = 20
/** Print "sceau-trace seal <counter>" and "sceau-trace sealed" around each signature (tests time them against the radio). */
export const TRACE_SEALING: boolean = false
