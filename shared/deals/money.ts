/**
 * Exact money: amounts are integers in the currency's minor units (cents, yen, fils), never floats. Products of
 * integers are computed with BigInt; the only division (a percentage discount) rounds half to even at the minor unit
 * (banker's rounding: 0.5 cent goes to the even cent, so many small discounts do not drift upwards).
 */

/** ISO 4217 codes this runtime knows (ICU's list). */
const KNOWN_CURRENCIES = new Set(Intl.supportedValuesOf('currency'));

export const isCurrency = (code: string): boolean => KNOWN_CURRENCIES.has(code);

const exponents = new Map<string, number>();

/** How many decimal digits the currency's minor unit has (ISO 4217, from ICU): JPY 0, USD 2, BHD 3. */
export function currencyExponent(code: string): number {
  let exponent = exponents.get(code);
  if (exponent === undefined) {
    exponent = new Intl.NumberFormat('en', { style: 'currency', currency: code }).resolvedOptions()
      .maximumFractionDigits as number;
    exponents.set(code, exponent);
  }
  return exponent;
}

/** An amount in minor units as a plain decimal string in major units: 123456 USD -> "1234.56", 5 BHD -> "0.005". */
export function toDecimalString(minor: number, code: string): string {
  const exponent = currencyExponent(code);
  const negative = minor < 0;
  const digits = String(Math.abs(minor)).padStart(exponent + 1, '0');
  const whole = digits.slice(0, digits.length - exponent);
  const fraction = exponent > 0 ? `.${digits.slice(digits.length - exponent)}` : '';
  return `${negative ? '-' : ''}${whole}${fraction}`;
}

/** numerator / denominator rounded half to even (both non-negative). */
export function divideHalfEven(numerator: bigint, denominator: bigint): bigint {
  const quotient = numerator / denominator;
  const twiceRemainder = (numerator % denominator) * 2n;
  if (twiceRemainder > denominator) return quotient + 1n;
  if (twiceRemainder < denominator) return quotient;
  return quotient % 2n === 0n ? quotient : quotient + 1n;
}

/** 100% in basis points. */
export const FULL_PERCENT_BP = 10_000;

export type Discount = { percentBasisPoints: number } | { amount: number };

export interface LinePrice {
  quantity: number;
  unitPrice: number;
  discount?: Discount | undefined;
}

export interface LineTotals {
  /** quantity x unit price */
  grossAmount: number;
  /** What the discount takes off (a percentage rounded half to even at the minor unit). */
  discountAmount: number;
  lineTotal: number;
}

/** Raised when a computed amount leaves the exactly representable integers, or a discount exceeds its line. */
export class AmountError extends Error {}

function safe(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new AmountError(`${what} is too large to be exact.`);
  return Number(value);
}

/** One line: gross = quantity x unit price; discount by percent (basis points, half-even) or by amount. */
export function lineTotals(line: LinePrice): LineTotals {
  const gross = BigInt(line.quantity) * BigInt(line.unitPrice);
  let discount = 0n;
  if (line.discount && 'percentBasisPoints' in line.discount) {
    discount = divideHalfEven(gross * BigInt(line.discount.percentBasisPoints), BigInt(FULL_PERCENT_BP));
  } else if (line.discount) {
    discount = BigInt(line.discount.amount);
    if (discount > gross) throw new AmountError('The discount is larger than the line.');
  }
  return {
    grossAmount: safe(gross, 'The line amount'),
    discountAmount: safe(discount, 'The discount'),
    lineTotal: safe(gross - discount, 'The line total'),
  };
}

/** The exact sum of line totals. */
export function sumAmounts(amounts: readonly number[]): number {
  return safe(
    amounts.reduce((sum, a) => sum + BigInt(a), 0n),
    'The deal amount',
  );
}
