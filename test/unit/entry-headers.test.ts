import { describe, expect, it } from 'vitest';
import { DATES_KEPT, httpDate } from '../../src/handlers/entry-headers.js';

describe('httpDate', () => {
  it('formats like Date#toUTCString, memoised or not, and after the memo starts over', () => {
    const instants = [0, 999, 1000, 1_796_282_948_123, 1_796_282_948_999, 1_796_282_949_000, 253_402_300_799_999];
    for (let second = 0; second < DATES_KEPT + 10; second++) instants.push(1_700_000_000_000 + second * 1000 + 7);
    for (const ms of [...instants, ...[...instants].reverse()]) expect(httpDate(ms)).toBe(new Date(ms).toUTCString());
  });
});
