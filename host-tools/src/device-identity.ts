/**
 * Transport identities of devices, as the protocol's keyring receives them for frames without
 * kid: `deveui:<16 hex digits, lower case>` for LoRaWAN, `kid:<hex>` for capture files. Pure:
 * the input parsers use these without loading the store.
 */
const DEVEUI_PREFIX = 'deveui:';

/**
 * A DevEUI as users and network servers write it (16 hex digits, any case, `-`, `:` or spaces
 * between them allowed) in the canonical form: 16 lower-case hex digits. Undefined when `value`
 * is not one.
 */
export function parseDevEui(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const clean = value.replace(/[-:\s]/g, '').toLowerCase();
  return /^[0-9a-f]{16}$/.test(clean) ? clean : undefined;
}

/** The transport identity the protocol's keyring receives for a LoRaWAN device. */
export function devEuiDeviceId(eui: string): string {
  return `${DEVEUI_PREFIX}${eui.replace(/[-:]/g, '').toLowerCase()}`;
}

/** The DevEUI (lower case) of a `deveui:` identity, or undefined for any other identity. */
export function devEuiOf(deviceId: string): string | undefined {
  return deviceId.startsWith(DEVEUI_PREFIX) ? deviceId.slice(DEVEUI_PREFIX.length).toLowerCase() : undefined;
}
