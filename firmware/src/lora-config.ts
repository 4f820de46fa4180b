// The LoRa radio parameters of src/config.ts, shared by the board entries and the VM entry.
import { LORA_BW_HZ, LORA_CR, LORA_FREQ_HZ, LORA_POWER_DBM, LORA_SF, LORA_SYNC_WORD } from "./config"
import { LoraParams } from "./lora"

/** The configured radio parameters (preamble 8 symbols, as LoRaWAN). */
export function configuredLoraParams(): LoraParams {
    return {
        freqHz: LORA_FREQ_HZ,
        sf: LORA_SF,
        bwHz: LORA_BW_HZ,
        cr: LORA_CR,
        txPowerDbm: LORA_POWER_DBM,
        preamble: 8,
        syncWord: LORA_SYNC_WORD,
    }
}
