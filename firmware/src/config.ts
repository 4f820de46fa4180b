// Firmware configuration. Boards and tests build with their own copy of this file
// (scripts/build.mjs can replace it for one build); values here are the defaults.

/** Milliseconds between two samplings of the sensors. */
export const SAMPLE_INTERVAL_MS = 60000
/** Readings sampled before one record is sealed (each carries its age). */
export const BATCH_SIZE = 1
/** Counter values reserved per settings write (a power cut skips at most this many). */
export const COUNTER_BLOCK = 16
/** Put the kid in the unprotected header (false where the transport names the device). */
export const WITH_KID = true
/** Give up on a settings read or write after this long (the settings server may be absent). */
export const SETTINGS_TIMEOUT_MS = 5000
/** Stop after this many frames (0 = run forever); used by tests. */
export const MAX_FRAMES = 0
