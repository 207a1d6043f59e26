/**
 * shop — fake external services the workflows call: a shop API, a flaky warehouse, a payment
 * provider and a mailer. They are plain classes handed to the workflows through the Runner's
 * `resolve` option (your DI container in a real app). Each call takes a few hundred milliseconds
 * so the progress is watchable and `--crash-at` lands mid-run.
 *
 * The payment provider keeps its charges in a JSON file next to the database, the way a real
 * provider keeps them on its side: a charge retried with the same idempotency key (after a crash,
 * say) returns the existing charge instead of charging the card twice.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import type { Say } from './console';

export interface Product {
  id: string;
  name: string;
  /** In cents. */
  price: number;
  inStock: boolean;
}

export interface PaymentMethod {
  id: string;
  label: string;
}

export interface Customer {
  id: string;
  name: string;
  email: string;
}

export interface Charge {
  id: string;
  amount: number;
  methodId: string;
  idempotencyKey: string;
}

const latency = (ms: number, signal: AbortSignal): Promise<void> => delay(ms, undefined, { signal });

export class ShopApi {
  constructor(
    private readonly ledgerFile: string,
    private readonly say: Say,
  ) {}

  async product(id: string, signal: AbortSignal): Promise<Product> {
    await latency(500, signal);
    return { id, name: 'Trail map of the Alps', price: 1900, inStock: true };
  }

  async paymentMethods(userId: string, signal: AbortSignal): Promise<PaymentMethod[]> {
    await latency(350, signal);
    return [{ id: `pm_${userId}_visa`, label: 'Visa •••• 4242' }];
  }

  async customer(userId: string, signal: AbortSignal): Promise<Customer> {
    await latency(700, signal);
    return { id: userId, name: 'Ada Lovelace', email: 'ada@example.com' };
  }

  async coupon(code: string, signal: AbortSignal): Promise<{ code: string; discount: number }> {
    await latency(300, signal);
    return { code, discount: 500 };
  }

  /** The warehouse API is flaky: `fail` makes this call answer 503. */
  async reserve(productId: string, quantity: number, fail: boolean, signal: AbortSignal): Promise<{ reservationId: string; quantity: number }> {
    await latency(300, signal);
    if (fail) throw new Error('warehouse API answered 503 Service Unavailable (simulated outage)');
    return { reservationId: `res_${productId}_${quantity}`, quantity };
  }

  /** Charges the card once per idempotency key, like Stripe's `Idempotency-Key` header. */
  async charge(methodId: string, amount: number, options: { idempotencyKey: string; signal: AbortSignal }): Promise<Charge> {
    await latency(500, options.signal);
    const ledger = this.readLedger();
    const existing = ledger[options.idempotencyKey];
    if (existing) {
      this.say(`  💳 payment provider: idempotency key ${options.idempotencyKey} seen before → returns charge ${existing.id}; the card is NOT charged twice`);
      return existing;
    }
    const charge: Charge = { id: `ch_${Object.keys(ledger).length + 1}_${options.idempotencyKey.slice(0, 8)}`, amount, methodId, idempotencyKey: options.idempotencyKey };
    writeFileSync(this.ledgerFile, JSON.stringify({ ...ledger, [options.idempotencyKey]: charge }, null, 2));
    this.say(`  💳 payment provider: charged ${(amount / 100).toFixed(2)} EUR to ${methodId} as ${charge.id}`);
    return charge;
  }

  async confirmOrder(orderId: string, signal: AbortSignal): Promise<{ orderId: string; confirmed: true }> {
    await latency(300, signal);
    return { orderId, confirmed: true };
  }

  private readLedger(): Record<string, Charge> {
    return existsSync(this.ledgerFile) ? (JSON.parse(readFileSync(this.ledgerFile, 'utf8')) as Record<string, Charge>) : {};
  }
}

export class Mailer {
  async render(lines: string[], signal: AbortSignal): Promise<string> {
    await latency(400, signal);
    return lines.join('\n');
  }

  async send(to: string, body: string, signal: AbortSignal): Promise<{ messageId: string; to: string; bytes: number }> {
    await latency(500, signal);
    return { messageId: `msg_${to.split('@')[0]}_${body.length}`, to, bytes: body.length };
  }
}
