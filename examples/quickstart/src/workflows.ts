/**
 * workflows — the order workflow of the quickstart and the receipt workflow it runs as a subflow.
 *
 *   getProduct → [paymentMethods ‖ customer] → applyCoupon (skipped: no coupon) → reserveStock
 *   (flaky: fails twice, then succeeds) → charge (idempotency key) → receipt (subflow:
 *   renderReceipt → sendEmail) → confirm
 *
 * Every step calls `crashPoint(ctx)` after its side effect, so `--crash-at <step>` kills the
 * process at the worst possible moment: the work is done but Cairn has not recorded it yet.
 */
import { Parallel, Step, Subflow, Workflow, type StepContext } from '@cairn/core';
import { crashPoint } from './crash';
import { Mailer, ShopApi } from './shop';

export interface OrderInput {
  productId: string;
  userId: string;
  quantity: number;
  coupon?: string;
}

export interface ReceiptInput {
  orderId: string;
  email: string;
  customer: string;
  item: string;
  amount: number;
  chargeId: string;
}

type ReceiptCtx = StepContext<ReceiptInput, SendReceipt>;

@Workflow({ name: 'send-receipt', version: 1 })
export class SendReceipt {
  constructor(private readonly mailer: Mailer) {}

  @Step()
  async renderReceipt(ctx: ReceiptCtx) {
    const { orderId, customer, item, amount, chargeId } = ctx.input;
    const body = await this.mailer.render([`Hello ${customer},`, `order ${orderId}: ${item}`, `paid ${(amount / 100).toFixed(2)} EUR (${chargeId})`], ctx.signal);
    await crashPoint(ctx, 'the receipt is rendered');
    return body;
  }

  @Step({ retries: 3, backoff: '300ms' })
  async sendEmail(ctx: ReceiptCtx) {
    const sent = await this.mailer.send(ctx.input.email, ctx.results.renderReceipt, ctx.signal);
    await crashPoint(ctx, `the e-mail ${sent.messageId} is sent`);
    return sent;
  }
}

type OrderCtx = StepContext<OrderInput, CreateOrder>;

@Workflow({ name: 'create-order', version: 1 })
export class CreateOrder {
  constructor(private readonly shop: ShopApi) {}

  @Step({ retries: 3, backoff: { type: 'exponential', min: '200ms', max: '5s' }, timeout: '10s' })
  async getProduct(ctx: OrderCtx) {
    const product = await this.shop.product(ctx.input.productId, ctx.signal);
    await crashPoint(ctx, `the product ${product.id} is loaded`);
    return product;
  }

  @Parallel('lookups')
  @Step()
  async paymentMethods(ctx: OrderCtx) {
    const methods = await this.shop.paymentMethods(ctx.input.userId, ctx.signal);
    await crashPoint(ctx, 'the payment methods are loaded');
    return methods;
  }

  @Parallel('lookups')
  @Step()
  async customer(ctx: OrderCtx) {
    const customer = await this.shop.customer(ctx.input.userId, ctx.signal);
    await crashPoint(ctx, 'the customer is loaded');
    return customer;
  }

  /** Runs only for orders with a coupon; the demo order has none, so Cairn stores it as skipped. */
  @Step<OrderInput, CreateOrder>({ when: (ctx) => ctx.input.coupon !== undefined })
  async applyCoupon(ctx: OrderCtx) {
    const coupon = await this.shop.coupon(ctx.input.coupon!, ctx.signal);
    await crashPoint(ctx, 'the coupon is applied');
    return coupon;
  }

  /** The warehouse is flaky: attempts 1 and 2 fail, attempt 3 succeeds. Cairn retries with backoff. */
  @Step({ retries: 3, backoff: { type: 'exponential', min: '300ms', max: '2s' } })
  async reserveStock(ctx: OrderCtx) {
    const reservation = await this.shop.reserve(ctx.input.productId, ctx.input.quantity, ctx.attempt < 3, ctx.signal);
    await crashPoint(ctx, `the stock is reserved (${reservation.reservationId})`);
    return reservation;
  }

  /** ctx.idempotencyKey is the same on every attempt and after a crash: the provider charges once. */
  @Step<OrderInput, CreateOrder>({ when: (ctx) => ctx.results.getProduct.inStock, retries: 5 })
  async charge(ctx: OrderCtx) {
    const amount = ctx.results.getProduct.price * ctx.input.quantity - (ctx.results.applyCoupon?.discount ?? 0);
    const charge = await this.shop.charge(ctx.results.paymentMethods[0]!.id, amount, { idempotencyKey: ctx.idempotencyKey, signal: ctx.signal });
    await crashPoint(ctx, `the card is charged (${charge.id})`);
    return charge;
  }

  /** A child run of SendReceipt; this method builds the child's input, the child's result is the node's result. */
  @Subflow<OrderInput, CreateOrder>(() => SendReceipt, { trackingId: (ctx) => `receipt-${ctx.trackingId}` })
  async receipt(ctx: OrderCtx): Promise<ReceiptInput> {
    const { getProduct: product, customer, charge } = ctx.results;
    await crashPoint(ctx, 'the receipt input is built');
    return { orderId: ctx.trackingId, email: customer.email, customer: customer.name, item: `${ctx.input.quantity} × ${product.name}`, amount: charge.amount, chargeId: charge.id };
  }

  @Step()
  async confirm(ctx: OrderCtx) {
    const { getProduct: product, reserveStock, charge, receipt } = ctx.results;
    await this.shop.confirmOrder(ctx.trackingId, ctx.signal);
    await crashPoint(ctx, 'the order is confirmed');
    return {
      orderId: ctx.trackingId,
      item: `${ctx.input.quantity} × ${product.name}`,
      reservation: reserveStock.reservationId,
      charged: `${(charge.amount / 100).toFixed(2)} EUR (${charge.id})`,
      receipt: receipt as unknown as Awaited<ReturnType<SendReceipt['sendEmail']>>,
    };
  }
}

export type OrderResult = Awaited<ReturnType<CreateOrder['confirm']>>;
