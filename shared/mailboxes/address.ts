/**
 * Mailbox addresses. A declared address is stored lower-cased and without a `+tag`; an envelope recipient may carry
 * one (`support+T-1042@acme.example`), which reaches the same mailbox and names a ticket.
 */

/** RFC 5321's limit on a forward path (what an SMTP server accepts), and on a local part. */
export const MAX_ADDRESS_BYTES = 254;
export const MAX_LOCAL_PART_BYTES = 64;

/** RFC 5322 `atext` without `+` (the sub-address separator): a dot-atom local part, ASCII only. */
const LOCAL_PART = /^[a-z0-9!#$%&'*/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*/=?^_`{|}~-]+)*$/;
/** Host names: LDH labels, at least two, a top-level label that is not all digits. */
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Why an address cannot be a mailbox, or undefined when it can (expects it lower-cased and trimmed). */
export function addressProblem(address: string): string | undefined {
  if (Buffer.byteLength(address, 'utf8') > MAX_ADDRESS_BYTES) return `At most ${MAX_ADDRESS_BYTES} bytes.`;
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return 'Use an address like support@example.com.';
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (local.includes('+')) return 'The local part cannot contain "+": it separates sub-addresses (tags).';
  if (local.length > MAX_LOCAL_PART_BYTES) return `The local part takes at most ${MAX_LOCAL_PART_BYTES} characters.`;
  if (!LOCAL_PART.test(local)) return "The local part may hold letters, digits, single dots and !#$%&'*/=?^_`{|}~-.";
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((label) => LABEL.test(label)) || /^\d+$/.test(labels.at(-1)!)) {
    return 'The domain must be a host name like example.com.';
  }
  return undefined;
}

/** The mailbox address an envelope recipient is for: lower-cased, its `+tag` removed. */
export function mailboxAddressOf(recipient: string): string {
  const address = recipient.trim().toLowerCase();
  const at = address.lastIndexOf('@');
  if (at < 0) return address;
  const local = address.slice(0, at);
  const plus = local.indexOf('+');
  return plus < 0 ? address : `${local.slice(0, plus)}${address.slice(at)}`;
}

/** The `+tag` of an envelope recipient (`support+T-1042@acme.example` → `T-1042`), as sent; undefined without one. */
export function subaddressTag(address: string): string | undefined {
  const at = address.lastIndexOf('@');
  const local = at < 0 ? address : address.slice(0, at);
  const plus = local.indexOf('+');
  if (plus < 0) return undefined;
  const tag = local.slice(plus + 1).trim();
  return tag === '' ? undefined : tag;
}

/**
 * Whether SES receipt-rule recipient conditions cover an address: a full address, a domain (not its subdomains) or
 * `.domain` (its subdomains). No conditions cover everything.
 */
export function coveredByRecipients(address: string, conditions: readonly string[]): boolean {
  if (conditions.length === 0) return true;
  const domain = address.slice(address.lastIndexOf('@') + 1);
  return conditions.some((raw) => {
    const condition = raw.trim().toLowerCase();
    if (condition.includes('@')) return condition === address;
    if (condition.startsWith('.')) return domain.endsWith(condition);
    return domain === condition;
  });
}
