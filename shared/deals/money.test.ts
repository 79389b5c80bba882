import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AmountError,
  currencyExponent,
  divideHalfEven,
  isCurrency,
  lineTotals,
  sumAmounts,
  toDecimalString,
} from './money.ts';

describe('currencies', () => {
  it('knows ISO 4217 codes and their minor-unit exponents', () => {
    expect(isCurrency('EUR')).toBe(true);
    expect(isCurrency('XXY')).toBe(false);
    expect(currencyExponent('JPY')).toBe(0);
    expect(currencyExponent('USD')).toBe(2);
    expect(currencyExponent('BHD')).toBe(3);
  });

  it('writes minor units as a decimal string in major units', () => {
    expect(toDecimalString(123456, 'USD')).toBe('1234.56');
    expect(toDecimalString(5, 'USD')).toBe('0.05');
    expect(toDecimalString(5, 'BHD')).toBe('0.005');
    expect(toDecimalString(1500, 'JPY')).toBe('1500');
    expect(toDecimalString(0, 'EUR')).toBe('0.00');
    expect(toDecimalString(-250, 'EUR')).toBe('-2.50');
  });
});

describe('rounding half to even', () => {
  it('rounds exact halves to the even neighbour and everything else to the nearest', () => {
    expect(divideHalfEven(5n, 2n)).toBe(2n); // 2.5 -> 2
    expect(divideHalfEven(7n, 2n)).toBe(4n); // 3.5 -> 4
    expect(divideHalfEven(11n, 4n)).toBe(3n); // 2.75 -> 3
    expect(divideHalfEven(9n, 4n)).toBe(2n); // 2.25 -> 2
    expect(divideHalfEven(0n, 7n)).toBe(0n);
  });

  it('never is more than half a unit away from the exact quotient', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 20n }), fc.bigInt({ min: 1n, max: 10n ** 6n }), (n, d) => {
        const q = divideHalfEven(n, d);
        const error = q * d - n; // scaled by d
        expect(2n * (error < 0n ? -error : error) <= d).toBe(true);
      }),
    );
  });
});

describe('line totals', () => {
  it('multiplies quantity and unit price exactly', () => {
    expect(lineTotals({ quantity: 3, unitPrice: 1999 })).toEqual({
      grossAmount: 5997,
      discountAmount: 0,
      lineTotal: 5997,
    });
  });

  it('takes a percentage discount in basis points, rounding half to even at the minor unit', () => {
    // 10% of 1005 = 100.5 -> 100 (even); 10% of 1015 = 101.5 -> 102 (even)
    expect(lineTotals({ quantity: 1, unitPrice: 1005, discount: { percentBasisPoints: 1000 } }).discountAmount).toBe(
      100,
    );
    expect(lineTotals({ quantity: 1, unitPrice: 1015, discount: { percentBasisPoints: 1000 } }).lineTotal).toBe(913);
    expect(lineTotals({ quantity: 7, unitPrice: 333, discount: { percentBasisPoints: 1250 } })).toEqual({
      grossAmount: 2331,
      discountAmount: 291, // 291.375
      lineTotal: 2040,
    });
    expect(lineTotals({ quantity: 2, unitPrice: 50, discount: { percentBasisPoints: 10_000 } }).lineTotal).toBe(0);
  });

  it('takes an amount discount, never more than the line', () => {
    expect(lineTotals({ quantity: 2, unitPrice: 500, discount: { amount: 150 } }).lineTotal).toBe(850);
    expect(() => lineTotals({ quantity: 1, unitPrice: 100, discount: { amount: 101 } })).toThrow(AmountError);
  });

  it('refuses totals beyond the exactly representable integers instead of losing precision', () => {
    expect(() => lineTotals({ quantity: 1_000_000, unitPrice: Number.MAX_SAFE_INTEGER })).toThrow(AmountError);
    expect(() => sumAmounts([Number.MAX_SAFE_INTEGER, 1])).toThrow(AmountError);
    expect(sumAmounts([1, 2, 3])).toBe(6);
  });

  it('is exact: line total + discount = quantity x unit price, for any inputs in range', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.integer({ min: 0, max: 1_000_000_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        (quantity, unitPrice, bp) => {
          const t = lineTotals({ quantity, unitPrice, discount: { percentBasisPoints: bp } });
          expect(BigInt(t.lineTotal) + BigInt(t.discountAmount)).toBe(BigInt(quantity) * BigInt(unitPrice));
          expect(t.lineTotal).toBeGreaterThanOrEqual(0);
          expect(Number.isInteger(t.discountAmount)).toBe(true);
        },
      ),
    );
  });
});
