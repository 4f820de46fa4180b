/**
 * Transport identities of devices, as the protocol's keyring receives them for frames without
 * kid: `deveui:<16 hex digits, lower case>` for LoRaWAN, `kid:<hex>` for capture files. Pure:
 * the input parsers use these without loading the store.
 */
const DEVEUI_PREFIX = 'deveui:';

/** The transport identity the protocol's keyring receives for a LoRaWAN device. */
export function devEuiDeviceId(eui: string): string {
  return `${DEVEUI_PREFIX}${eui.replace(/[-:]/g, '').toLowerCase()}`;
}

/** The DevEUI (lower case) of a `deveui:` identity, or undefined for any other identity. */
export function devEuiOf(deviceId: string): string | undefined {
  return deviceId.startsWith(DEVEUI_PREFIX) ? deviceId.slice(DEVEUI_PREFIX.length).toLowerCase() : undefined;
}
