/**
 * Seeded pseudo-random numbers for the fleet simulator.
 *
 * The generator is xoshiro128** (Blackman & Vigna, 2018): 128 bits of state, period 2^128 − 1, fast with 32-bit
 * integer arithmetic (imul) and good enough statistically for Monte-Carlo work. It is hand-written here so a
 * simulation is byte-for-byte reproducible from `--seed` on every Node version, with no dependency.
 *
 * Streams are *forked by label* rather than drawn sequentially from one generator: `root.fork('patient', site, day,
 * k)` depends only on the seed and the labels, never on how many numbers other parts of the simulation consumed.
 * That is what keeps a scenario stable under change — turning on a drift injection, or changing the heartbeat rate,
 * leaves every unrelated patient exactly as it was, so a paired comparison isolates the injected effect.
 */

// Math functions bound once per module: hot loops then avoid a global lookup per call, which is costly in the
// sandboxed module context jest runs code in (and free elsewhere).
const { PI, abs, cos, exp, floor, imul, log, pow, sin, sqrt } = Math;
const { isInteger, isSafeInteger } = Number;

const TWO_POW_32 = 4294967296;
const GOLDEN_GAMMA = 0x9e3779b9;

/** murmur3's 32-bit finaliser: full avalanche, so neighbouring labels (day 17, day 18) give unrelated streams. */
function fmix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export type StreamLabel = string | number;

/** 32-bit hash of one label; integers hash by value (both halves, so day numbers beyond 2^32 stay distinct). */
function hashLabel(label: StreamLabel): number {
  if (typeof label === 'number') {
    if (isSafeInteger(label)) {
      const low = label >>> 0;
      const high = floor(label / TWO_POW_32) >>> 0;
      return fmix32(low ^ fmix32(high + 0x632be5ab));
    }
    return hashLabel(String(label));
  }
  // FNV-1a over UTF-16 code units, then finalised.
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = imul(h, 0x01000193);
  }
  return fmix32(h ^ label.length);
}

/** Derives a 128-bit key from a parent key and a label path. Lanes are mixed with distinct constants. */
function deriveKey(parent: readonly number[], labels: readonly StreamLabel[]): number[] {
  let k0 = parent[0];
  let k1 = parent[1];
  let k2 = parent[2];
  let k3 = parent[3];
  for (const label of labels) {
    const x = hashLabel(label);
    k0 = fmix32(k0 ^ x ^ 0x243f6a88);
    k1 = fmix32(k1 + imul(x, GOLDEN_GAMMA) + k0);
    k2 = fmix32(k2 ^ (x + 0x13198a2e) ^ k1);
    k3 = fmix32(k3 + (x ^ 0x03707344) + k2);
  }
  if ((k0 | k1 | k2 | k3) === 0) k0 = 1; // xoshiro must not start from the all-zero state
  return [k0 >>> 0, k1 >>> 0, k2 >>> 0, k3 >>> 0];
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hex32(value: number): string {
  return (
    HEX[(value >>> 24) & 0xff] + HEX[(value >>> 16) & 0xff] + HEX[(value >>> 8) & 0xff] + HEX[value & 0xff]
  );
}

export class Random {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** Cached second Box–Muller deviate: the transform yields normals in pairs. */
  private spareNormal: number | null = null;

  private constructor(private readonly key: readonly number[]) {
    this.s0 = key[0];
    this.s1 = key[1];
    this.s2 = key[2];
    this.s3 = key[3];
    // Discard a few outputs: derived keys are already well mixed, this only decorrelates the first draws further.
    for (let i = 0; i < 4; i++) this.nextUint32();
  }

  /** A generator for a textual or numeric seed (`--seed`); the same seed always yields the same streams. */
  static fromSeed(seed: string | number): Random {
    return new Random(
      deriveKey([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a], ['fieldwatch-simulator', seed]),
    );
  }

  /** An independent stream named by `labels`; does not consume draws from this generator. */
  fork(...labels: StreamLabel[]): Random {
    return new Random(deriveKey(this.key, labels));
  }

  /** Next raw 32-bit output of xoshiro128**. */
  nextUint32(): number {
    const result = imul(rotl(imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform on [0, 1) with 32 bits of resolution. */
  uniform(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /** Uniform on the open interval (0, 1): safe to take logarithms of. */
  uniformOpen(): number {
    return (this.nextUint32() + 0.5) / TWO_POW_32;
  }

  between(low: number, high: number): number {
    return low + (high - low) * this.uniform();
  }

  /** Integer uniform on [low, high] inclusive. */
  integer(low: number, high: number): number {
    return low + floor(this.uniform() * (high - low + 1));
  }

  bernoulli(probability: number): boolean {
    return this.uniform() < probability;
  }

  /** Normal deviate by the Box–Muller transform (polar-free form; the pair's second value is cached). */
  normal(mean = 0, sd = 1): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return mean + sd * z;
    }
    const radius = sqrt(-2 * log(this.uniformOpen()));
    const angle = 2 * PI * this.uniform();
    this.spareNormal = radius * sin(angle);
    return mean + sd * radius * cos(angle);
  }

  /** Student-t with `degreesOfFreedom`: Z / sqrt(χ²_ν / ν), χ²_ν = Gamma(ν/2, scale 2). */
  studentT(degreesOfFreedom: number): number {
    const chiSquare = this.gamma(degreesOfFreedom / 2, 2);
    return this.normal() / sqrt(chiSquare / degreesOfFreedom);
  }

  /**
   * Gamma(shape, scale) by Marsaglia & Tsang (2000) for shape ≥ 1; for shape < 1 the boost
   * Gamma(a) = Gamma(a + 1) · U^(1/a).
   */
  gamma(shape: number, scale = 1): number {
    if (!(shape > 0) || !(scale > 0))
      throw new RangeError(`gamma needs shape, scale > 0 (got ${shape}, ${scale})`);
    if (shape < 1) {
      return this.gamma(shape + 1, scale) * pow(this.uniformOpen(), 1 / shape);
    }
    const d = shape - 1 / 3;
    const c = 1 / sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.uniformOpen();
      const x2 = x * x;
      if (u < 1 - 0.0331 * x2 * x2) return d * v * scale;
      if (log(u) < 0.5 * x2 + d * (1 - v + log(v))) return d * v * scale;
    }
  }

  /** Beta(a, b) as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b). */
  beta(a: number, b: number): number {
    const x = this.gamma(a);
    const y = this.gamma(b);
    return x / (x + y);
  }

  /** Lognormal with log-scale parameters mu, sigma. */
  lognormal(mu: number, sigma: number): number {
    return exp(this.normal(mu, sigma));
  }

  /** Lognormal parameterised by its median (= e^mu), which is how the evidence states lags and durations. */
  lognormalFromMedian(median: number, sigma: number): number {
    return median * exp(sigma * this.normal());
  }

  exponential(rate: number): number {
    return -log(this.uniformOpen()) / rate;
  }

  /**
   * Poisson(lambda): Knuth's product method below 30 (exact, cheap at the fleet's 2–12 patients a day); above, the
   * PTRS transformed-rejection method of Hörmann (1993), exact and O(1) for the large rates benchmarks ask for.
   */
  poisson(lambda: number): number {
    if (!(lambda >= 0)) throw new RangeError(`poisson needs lambda >= 0 (got ${lambda})`);
    if (lambda === 0) return 0;
    if (lambda < 30) {
      const limit = exp(-lambda);
      let k = 0;
      let product = this.uniform();
      while (product > limit) {
        k++;
        product *= this.uniform();
      }
      return k;
    }
    const sqrtLambda = sqrt(lambda);
    const logLambda = log(lambda);
    const b = 0.931 + 2.53 * sqrtLambda;
    const a = -0.059 + 0.02483 * b;
    const inverseAlpha = 1.1239 + 1.1328 / (b - 3.4);
    const vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
      const u = this.uniform() - 0.5;
      const v = this.uniformOpen();
      const us = 0.5 - abs(u);
      const k = floor(((2 * a) / us + b) * u + lambda + 0.43);
      if (us >= 0.07 && v <= vr) return k;
      if (k < 0 || (us < 0.013 && v > us)) continue;
      if (log(v) + log(inverseAlpha) - log(a / (us * us) + b) <= -lambda + k * logLambda - logFactorial(k)) {
        return k;
      }
    }
  }

  /** Index drawn with probability proportional to `weights` (need not sum to 1). */
  categorical(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    let target = this.uniform() * total;
    for (let i = 0; i < weights.length; i++) {
      target -= weights[i];
      if (target < 0) return i;
    }
    // Rounding can leave target at ~0 after the loop: return the last index with positive weight.
    for (let i = weights.length - 1; i >= 0; i--) if (weights[i] > 0) return i;
    throw new RangeError('categorical needs at least one positive weight');
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[floor(this.uniform() * items.length)];
  }

  /** Fisher–Yates shuffle into a new array. */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = floor(this.uniform() * (i + 1));
      const tmp = out[i];
      out[i] = out[j];
      out[j] = tmp;
    }
    return out;
  }

  /**
   * An RFC 4122 version-4 UUID from this stream: 122 random bits, version nibble 4, variant bits 10. Event ids are
   * the platform's idempotency key, so they must be deterministic (a replayed scenario is a duplicate) yet
   * collision-free across a run (2^122 space).
   */
  uuidV4(): string {
    const a = this.nextUint32();
    const b = ((this.nextUint32() & 0xffff0fff) | 0x00004000) >>> 0;
    const c = ((this.nextUint32() & 0x3fffffff) | 0x80000000) >>> 0;
    const d = this.nextUint32();
    const hb = hex32(b);
    const hc = hex32(c);
    return `${hex32(a)}-${hb.slice(0, 4)}-${hb.slice(4)}-${hc.slice(0, 4)}-${hc.slice(4)}${hex32(d)}`;
  }

  /** `length` lowercase hex characters. */
  hex(length: number): string {
    let out = '';
    while (out.length < length) out += hex32(this.nextUint32());
    return out.slice(0, length);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

const LOG_FACTORIAL_TABLE: number[] = [0];
function logFactorial(k: number): number {
  if (k < 256) {
    for (let i = LOG_FACTORIAL_TABLE.length; i <= k; i++)
      LOG_FACTORIAL_TABLE[i] = LOG_FACTORIAL_TABLE[i - 1] + log(i);
    return LOG_FACTORIAL_TABLE[k];
  }
  // Stirling series: error < 1e-12 for k ≥ 256.
  const x = k + 1;
  return (x - 0.5) * log(x) - x + 0.5 * log(2 * PI) + 1 / (12 * x) - 1 / (360 * x * x * x);
}

/**
 * A keyed bijection on [0, 2^bits) (a 4-round balanced Feistel network). Applied to a per-site serial number it yields
 * pseudonyms that look random ("p-8c1f0e") yet can never collide within a site — random 24-bit draws would collide
 * after a few thousand patients (birthday bound) and silently corrupt outcome linkage.
 */
export class FeistelPermutation {
  private readonly halfBits: number;
  private readonly halfMask: number;
  private readonly halfSize: number;
  private readonly roundKeys: number[];
  /** Number of values permuted, 2^bits. */
  readonly size: number;

  constructor(bits: number, rng: Random) {
    if (bits % 2 !== 0 || bits < 2 || bits > 32)
      throw new RangeError(`Feistel width must be even, 2..32 (got ${bits})`);
    this.halfBits = bits / 2;
    this.halfMask = (1 << this.halfBits) - 1;
    this.halfSize = 2 ** this.halfBits;
    this.size = 2 ** bits;
    this.roundKeys = [rng.nextUint32(), rng.nextUint32(), rng.nextUint32(), rng.nextUint32()];
  }

  apply(value: number): number {
    if (!(value >= 0 && value < this.size && isInteger(value))) {
      throw new RangeError(`Feistel input ${value} outside [0, ${this.size})`);
    }
    let left = floor(value / this.halfSize) & this.halfMask;
    let right = value & this.halfMask;
    for (const roundKey of this.roundKeys) {
      const next = (left ^ fmix32(right ^ roundKey)) & this.halfMask;
      left = right;
      right = next;
    }
    return left * this.halfSize + right;
  }
}
