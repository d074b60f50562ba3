/**
 * Injection of bad messages, to exercise the platform's validation, signature check, dead-letter queue and
 * de-duplication (DESIGN.md §4). Bad messages are *additional* messages derived from a genuine one — the genuine stream
 * stays intact, so accuracy figures are unaffected — and go to the same topic with the same key, as a faulty or
 * hostile sender would send them.
 *
 * For each genuine message and each kind, a burst of `burstSize` bad messages starts with probability
 * rate / burstSize, so the expected count of each kind is `rate × genuine messages`. Each bad message (other than a
 * duplicate) carries a fresh eventId: if the platform wrongly accepted one, it would show up as an extra record.
 */
import type { FieldwatchEvent } from './contracts';
import type { InjectedKind, OutboundMessage } from './messages';
import { Random } from './random';

// Math functions bound once per module: hot loops then avoid a global lookup per call, which is costly in the
// sandboxed module context jest runs code in (and free elsewhere).
const { floor, max, min, round } = Math;

export interface FaultRates {
  /** Invalid JSON (truncated, stray tokens), correctly signed: the platform must dead-letter it as json_invalid. */
  malformed: number;
  /** Valid JSON, correctly signed, violating the §4 contract (ctFfr > 1, unknown vessel, missing field…). */
  schemaInvalid: number;
  /** No signature header. */
  unsigned: number;
  /** Signed with a secret the platform never issued. */
  forged: number;
  /** Signed by the real sender, then a field changed (signature no longer matches). */
  tampered: number;
  /** The exact same bytes and headers sent again shortly after (must be counted as a duplicate, stored once). */
  duplicate: number;
  /** Bad messages come in bursts of this many (a misbehaving sender rarely errs once). */
  burstSize: number;
}

export const NO_FAULTS: FaultRates = {
  malformed: 0,
  schemaInvalid: 0,
  unsigned: 0,
  forged: 0,
  tampered: 0,
  duplicate: 0,
  burstSize: 1,
};

const BAD_KINDS = ['malformed', 'schemaInvalid', 'unsigned', 'forged', 'tampered'] as const;
type BadKind = (typeof BAD_KINDS)[number];

/** Longest simulated delay before a duplicate is re-sent (a producer retry or an at-least-once relay). */
const DUPLICATE_MAX_DELAY_MS = 5 * 60_000;

export interface InjectionResult {
  /** Bad messages to publish right after the genuine one. */
  extra: OutboundMessage[];
  /** A duplicate to publish later (at its own `at`), or null. */
  duplicate: OutboundMessage | null;
}

export class FaultInjector {
  private readonly active: boolean;
  private readonly burstSize: number;

  constructor(
    private readonly rng: Random,
    private readonly rates: FaultRates,
  ) {
    this.burstSize = max(1, floor(rates.burstSize));
    this.active = BAD_KINDS.some((kind) => rates[kind] > 0) || rates.duplicate > 0;
    for (const kind of [...BAD_KINDS, 'duplicate'] as const) {
      if (!(rates[kind] >= 0 && rates[kind] <= 1)) throw new RangeError(`--${kind} rate must be in [0, 1]`);
    }
  }

  /** Bad messages derived from the `serial`-th genuine message. */
  inject(message: OutboundMessage, serial: number): InjectionResult {
    const result: InjectionResult = { extra: [], duplicate: null };
    if (!this.active || message.body.kind !== 'event') return result;
    // One draw per kind per message, always: the fault stream stays aligned whatever the rates are.
    const draws = BAD_KINDS.map(() => this.rng.uniform());
    const duplicateDraw = this.rng.uniform();
    const event = message.body.event;
    BAD_KINDS.forEach((kind, k) => {
      if (draws[k] >= this.rates[kind] / this.burstSize) return;
      const derived = this.rng.fork('bad', serial, kind);
      for (let i = 0; i < this.burstSize; i++) result.extra.push(this.derive(kind, message, event, derived));
    });
    if (duplicateDraw < this.rates.duplicate) {
      const delay = round(this.rng.fork('duplicate', serial).uniform() * DUPLICATE_MAX_DELAY_MS);
      result.duplicate = { ...message, at: message.at + delay, injected: 'duplicate', truth: undefined };
    }
    return result;
  }

  private derive(
    kind: BadKind,
    original: OutboundMessage,
    event: FieldwatchEvent,
    rng: Random,
  ): OutboundMessage {
    const copy: FieldwatchEvent = { ...event, eventId: rng.uuidV4() };
    const base = {
      topic: original.topic,
      key: original.key,
      at: original.at,
      sender: original.sender,
      injected: kind as InjectedKind,
    };
    switch (kind) {
      case 'malformed':
        return {
          ...base,
          body: { kind: 'raw', text: corruptJson(JSON.stringify(copy), rng) },
          signing: { mode: 'sender' },
        };
      case 'schemaInvalid':
        return {
          ...base,
          body: { kind: 'raw', text: JSON.stringify(violateContract(copy, rng)) },
          signing: { mode: 'sender' },
        };
      case 'unsigned':
        return { ...base, body: { kind: 'event', event: copy }, signing: { mode: 'none' } };
      case 'forged':
        return {
          ...base,
          body: { kind: 'event', event: copy },
          signing: { mode: 'secret', secret: `forged-${rng.hex(32)}` },
        };
      case 'tampered': {
        const signedText = JSON.stringify(copy);
        return {
          ...base,
          body: { kind: 'raw', text: JSON.stringify(tamper(copy, rng)) },
          signing: { mode: 'sender-over', signedText },
        };
      }
    }
  }
}

/** Invalid JSON in the ways broken senders produce it. Every variant is guaranteed not to parse. */
export function corruptJson(text: string, rng: Random): string {
  switch (rng.integer(0, 3)) {
    case 0:
      // Cut off mid-message (a proper prefix of an object never parses).
      return text.slice(0, rng.integer(1, text.length - 1));
    case 1:
      // A trailing comma before the closing brace.
      return text.slice(0, -1) + ',}';
    case 2:
      // A non-JSON number token.
      return text.slice(0, -1) + ',"qualityFlag":NaN}';
    default:
      // Single-quoted keys, as a hand-rolled serialiser might write.
      return text.replace(/"eventId"/, "'eventId'");
  }
}

type Mutable = Record<string, unknown>;

/** A copy that is valid JSON but breaks the §4 contract in one place. */
export function violateContract(event: FieldwatchEvent, rng: Random): Mutable {
  const copy: Mutable = JSON.parse(JSON.stringify(event)) as Mutable;
  const variants: ((target: Mutable) => void)[] = [];
  if (event.schema === 'fieldwatch.analysis/1') {
    if (event.vessels.length > 0) {
      variants.push((t) => ((t.vessels as Mutable[])[0].ctFfr = 1 + rng.integer(5, 40) / 100));
      variants.push((t) => ((t.vessels as Mutable[])[0].vessel = 'D1'));
    }
    variants.push((t) => delete t.patientRef);
    variants.push((t) => (t.status = 'done'));
    variants.push((t) => (t.occurredAt = 'yesterday'));
  } else if (event.schema === 'fieldwatch.outcome/1') {
    if (event.type === 'invasive_ffr') {
      variants.push((t) => (t.value = 1 + rng.integer(5, 40) / 100));
      variants.push((t) => (t.vessel = 'OM1'));
      variants.push((t) => delete t.measuredAt);
    } else {
      variants.push((t) => (t.event = 'stroke'));
      variants.push((t) => delete t.occurredAt);
    }
    variants.push((t) => delete t.patientRef);
    variants.push((t) => (t.type = 'angiography'));
  } else {
    variants.push((t) => (t.kind = 'reboot'));
    variants.push((t) => delete t.occurredAt);
    variants.push((t) => (t.eventId = `evt-${rng.hex(12)}`));
  }
  rng.pick(variants)(copy);
  return copy;
}

/** A still-valid event with one clinically meaningful field changed after signing. */
export function tamper(event: FieldwatchEvent, rng: Random): FieldwatchEvent {
  const copy = JSON.parse(JSON.stringify(event)) as FieldwatchEvent;
  if (copy.schema === 'fieldwatch.analysis/1' && copy.vessels.length > 0) {
    const vessel = copy.vessels[0];
    vessel.ctFfr =
      vessel.ctFfr > 0.8 ? round((vessel.ctFfr - 0.15) * 100) / 100 : min(1, vessel.ctFfr + 0.15);
    vessel.ctFfr = round(vessel.ctFfr * 100) / 100;
  } else if (copy.schema === 'fieldwatch.outcome/1' && copy.type === 'invasive_ffr') {
    copy.value =
      copy.value > 0.8
        ? round((copy.value - 0.12) * 100) / 100
        : min(1, round((copy.value + 0.12) * 100) / 100);
  } else if (copy.schema === 'fieldwatch.device-event/1') {
    copy.message = `${copy.message} (edited)`;
  } else {
    copy.patientRef = `p-${rng.hex(6)}`;
  }
  return copy;
}
