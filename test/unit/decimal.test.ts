import { describe, expect, it } from 'vitest';
import { addDecimals, decimalFromNumber, formatDecimal, parseDecimal } from '../../src/decimal.js';

const add = (a: string, b: number) => formatDecimal(addDecimals(parseDecimal(a)!, decimalFromNumber(b)));

describe('decimal arithmetic', () => {
  it('keeps integers integers', () => {
    expect(add('41', 1)).toBe('42');
    expect(add('-1', 1)).toBe('0');
    expect(add('0', -5)).toBe('-5');
  });

  it('adds decimals exactly', () => {
    expect(add('0.1', 0.2)).toBe('0.3');
    expect(add('40.1', 0.9)).toBe('41.0');
    expect(add('1.50', 1)).toBe('2.50');
    expect(add('-0.5', 0.25)).toBe('-0.25');
  });

  it('goes past 2^53 without losing precision', () => {
    expect(add('9007199254740993', 2)).toBe('9007199254740995');
  });

  it('takes tiny and huge JSON steps without exponent noise', () => {
    expect(add('0', 1e-7)).toBe('0.0000001');
    expect(add('0', 1e21)).toBe('1000000000000000000000');
  });

  it('reads every kind of JSON step as the number it writes in plain notation', () => {
    const plain = (value: number) => value.toLocaleString('en-US', { useGrouping: false, maximumFractionDigits: 20 });
    const steps = [
      1,
      -1,
      0,
      -0,
      42,
      2 ** 53 - 1,
      -(2 ** 53 - 1),
      2 ** 53,
      2 ** 70,
      1e21,
      0.1,
      -0.25,
      123.456,
      1e-7,
      5e-324,
    ];
    for (const step of steps)
      expect(formatDecimal(decimalFromNumber(step)), String(step)).toBe(plain(step).replace(/^-0$/, '0'));
  });

  it('refuses text that is not a plain decimal number', () => {
    for (const text of ['', 'abc', '1e3', '0x10', '1.', '.5', '1,5', 'NaN', 'Infinity', '1 2'])
      expect(parseDecimal(text)).toBeUndefined();
  });

  it('accepts surrounding whitespace and a sign', () => {
    expect(formatDecimal(parseDecimal(' +7\n')!)).toBe('7');
  });
});
