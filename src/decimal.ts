/** Exact decimal arithmetic for counters: integers stay integers and 0.1 + 0.2 is 0.3. */

const DECIMAL = /^\s*([+-]?)(\d+)(?:\.(\d+))?\s*$/;

/**
 * The most digits (before and after the point together) a number increment and decrement take, in
 * the stored value, the step and the result alike. Far beyond any counter, and small enough that the
 * arithmetic costs microseconds and the answer's `value` is a finite JSON number (a double holds
 * up to about 1.8e308). Without it a 7 MB number took seconds of the event loop and answered null.
 */
export const MAX_DIGITS = 300;

/** Texts longer than this cannot be a number of MAX_DIGITS digits (with a sign, a point and some spaces). */
export const MAX_NUMBER_TEXT_BYTES = 1024;

/** A decimal as an integer `units` scaled down by 10^scale. */
interface Decimal {
  units: bigint;
  scale: number;
}

/** Parses a decimal number written in plain notation; undefined when the text is not one. */
export function parseDecimal(text: string): Decimal | undefined {
  const match = DECIMAL.exec(text);
  if (!match) return undefined;
  const [, sign, whole, fraction = ''] = match;
  const units = BigInt(`${whole}${fraction}`);
  return { units: sign === '-' ? -units : units, scale: fraction.length };
}

/**
 * Writes a number in plain notation (no exponent, no grouping), built once: `toLocaleString` with options builds a
 * formatter per call, 60 us here, which was a fifth of a PATCH increment's time.
 */
const PLAIN = new Intl.NumberFormat('en-US', { useGrouping: false, maximumFractionDigits: 20 });

/** Turns a finite JS number (a JSON step) into a decimal without binary noise. */
export function decimalFromNumber(value: number): Decimal {
  // A safe integer (the usual step) is exactly its BigInt; -0 is 0.
  if (Number.isSafeInteger(value)) return { units: BigInt(value), scale: 0 };
  const parsed = parseDecimal(PLAIN.format(value));
  if (!parsed) throw new RangeError(`Not a finite number: ${value}`);
  return parsed;
}

/** How many digits the decimal has as `formatDecimal` writes it (`0.05` has 3). */
export function countDigits({ units, scale }: Decimal): number {
  return Math.max((units < 0n ? -units : units).toString().length, scale + 1);
}

export function addDecimals(a: Decimal, b: Decimal): Decimal {
  const scale = Math.max(a.scale, b.scale);
  return { units: a.units * 10n ** BigInt(scale - a.scale) + b.units * 10n ** BigInt(scale - b.scale), scale };
}

export function negate(value: Decimal): Decimal {
  return { units: -value.units, scale: value.scale };
}

/** Writes a decimal back in plain notation, keeping its scale (`1.50` + `1` is `2.50`). */
export function formatDecimal({ units, scale }: Decimal): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(scale + 1, '0');
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${text}` : text;
}
