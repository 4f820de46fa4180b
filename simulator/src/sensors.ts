import type { Reading } from '@sceau/protocol';
import type { Prng } from './prng.js';

/** Sensor kinds a simulated device can carry, with the channel each reports on (protocol channel registry). */
export const SENSOR_CHANNELS = {
  temperature: 1, // 0.01 Cel
  humidity: 2, // 0.01 %RH
  pressure: 3, // Pa
  co2: 4, // ppm
  battery: 5, // mV (0.001 V)
  illuminance: 6, // lx
} as const;

export type SensorKind = keyof typeof SENSOR_CHANNELS;
export const SENSOR_KINDS = Object.keys(SENSOR_CHANNELS) as SensorKind[];
export const BOOT_CHANNEL = 32;

const DAY_MS = 86_400_000;

/**
 * The environment one device sees, as smooth functions of virtual time plus AR(1) noise:
 * temperature follows a daily cycle peaking mid-afternoon, relative humidity moves against it,
 * CO2 rises during the working day, light follows the sun. Faults: with a small probability per
 * sample a sensor does not answer (an I2C NACK), and its reading is left out of that round.
 */
export class SensorModel {
  private readonly baseTemp: number;
  private readonly ampTemp: number;
  private readonly baseHum: number;
  private readonly basePressure: number;
  private noiseT = 0;
  private noiseH = 0;
  private noiseP = 0;
  private batteryMv: number;
  private readonly drainMvPerDay: number;
  faults = 0;

  constructor(
    private readonly rng: Prng,
    readonly kinds: readonly SensorKind[],
    private readonly faultRate: number,
    private readonly startUnixMs: number,
  ) {
    this.baseTemp = rng.range(14, 24);
    this.ampTemp = rng.range(1, 6);
    this.baseHum = rng.range(40, 65);
    this.basePressure = rng.range(99_000, 102_500);
    this.batteryMv = rng.range(3050, 3300);
    this.drainMvPerDay = rng.range(0.5, 3);
  }

  /** Battery drain caused by a transmission of `airtimeMs` (radio current dominates the budget). */
  drainForAirtime(airtimeMs: number): void {
    this.batteryMv -= airtimeMs * 0.00002;
  }

  batteryReading(t: number, age: number): Reading {
    const mv = this.batteryMv - (this.drainMvPerDay * t) / DAY_MS;
    return withAge({ channel: SENSOR_CHANNELS.battery, value: Math.max(0, Math.round(mv)) }, age);
  }

  /** One sampling round at virtual time `t` (ms): a reading per sensor, battery excepted (once per record). */
  sample(t: number, out: Array<{ channel: number; value: number; at: number }>): void {
    const hourOfDay = (((this.startUnixMs + t) % DAY_MS) + DAY_MS) % DAY_MS / 3_600_000;
    const daily = Math.cos((2 * Math.PI * (hourOfDay - 15)) / 24); // 1 at 15:00, -1 at 03:00
    this.noiseT = 0.9 * this.noiseT + 0.15 * this.rng.normal();
    this.noiseH = 0.9 * this.noiseH + 0.6 * this.rng.normal();
    this.noiseP = 0.98 * this.noiseP + 8 * this.rng.normal();
    for (const kind of this.kinds) {
      if (kind === 'battery') continue;
      if (this.faultRate > 0 && this.rng.chance(this.faultRate)) {
        this.faults++;
        continue;
      }
      let value: number;
      switch (kind) {
        case 'temperature':
          value = Math.round((this.baseTemp + this.ampTemp * daily + this.noiseT) * 100);
          break;
        case 'humidity': {
          const rh = this.baseHum - 2.5 * this.ampTemp * daily + this.noiseH;
          value = Math.round(Math.min(100, Math.max(0, rh)) * 100);
          break;
        }
        case 'pressure':
          value = Math.round(this.basePressure + 150 * Math.sin((2 * Math.PI * t) / (3 * DAY_MS)) + this.noiseP);
          break;
        case 'co2': {
          const work = hourOfDay >= 8 && hourOfDay <= 18 ? Math.sin((Math.PI * (hourOfDay - 8)) / 10) : 0;
          value = Math.max(380, Math.round(420 + 700 * work + 20 * this.rng.normal()));
          break;
        }
        case 'illuminance': {
          const sun = Math.max(0, Math.sin((Math.PI * (hourOfDay - 6)) / 14));
          value = Math.max(0, Math.round(30_000 * sun * (0.6 + 0.4 * this.rng.float())));
          break;
        }
        default:
          continue;
      }
      out.push({ channel: SENSOR_CHANNELS[kind], value, at: t });
    }
  }
}

function withAge(r: Reading, age: number): Reading {
  if (age > 0) r.age = age;
  return r;
}
