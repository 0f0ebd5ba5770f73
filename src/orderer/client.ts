import * as grpc from "@grpc/grpc-js";
import { type Block, Envelope, type Status } from "../protos/gen/common/common.pb.js";
import { BroadcastResponse, DeliverResponse } from "../protos/gen/orderer/ab.pb.js";
import { type Clock, errorMessage, SystemClock } from "../util/index.js";
import { OrdererError } from "./errors.js";
import { ORDERER_MAX_MESSAGE_SIZE } from "./interface.js";
import { clientCredentials, passBytes, takeBytes } from "../comm/grpc/index.js";
import { BROADCAST_PATH, DELIVER_PATH } from "./service.js";

/** Options of the orderer client helpers. */
export interface OrdererClientOptions {
  /** TLS: the server's CA, and a client certificate for mutual TLS. Plaintext when absent. */
  tls?: { rootCAs: string | Buffer; cert?: string | Buffer; key?: string | Buffer; serverNameOverride?: string };
  /** Connection deadline. Default 10 000 ms. */
  dialTimeoutMs?: number;
  clock?: Clock;
}

const DEFAULT_DIAL_TIMEOUT_MS = 10_000;

async function connect(endpoint: string, opts: OrdererClientOptions): Promise<grpc.Client> {
  const clock = opts.clock ?? new SystemClock();
  const options: grpc.ChannelOptions = {
    "grpc.max_receive_message_length": ORDERER_MAX_MESSAGE_SIZE,
    "grpc.max_send_message_length": ORDERER_MAX_MESSAGE_SIZE,
    "grpc.use_local_subchannel_pool": 1,
  };
  const client = new grpc.Client(endpoint, clientCredentials(endpoint, opts.tls, options), options);
  const timeoutMs = opts.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS;
  try {
    await new Promise<void>((resolve, reject) => {
      client.waitForReady(clock.now() + timeoutMs, (err) => (err ? reject(err) : resolve()));
    });
  } catch (err) {
    client.close();
    throw new OrdererError("RPC_FAILED", `cannot connect to orderer ${endpoint} within ${timeoutMs} ms: ${errorMessage(err)}`, { cause: err });
  }
  return client;
}

/**
 * Sends envelopes on one `AtomicBroadcast.Broadcast` stream and returns one BroadcastResponse per
 * envelope, in order. Throws OrdererError RPC_FAILED if the stream fails or ends early.
 */
export async function broadcastAll(endpoint: string, envs: readonly Envelope[], opts: OrdererClientOptions = {}): Promise<BroadcastResponse[]> {
  const client = await connect(endpoint, opts);
  try {
    const call = client.makeBidiStreamRequest<Uint8Array, Uint8Array>(BROADCAST_PATH, passBytes, takeBytes);
    return await new Promise<BroadcastResponse[]>((resolve, reject) => {
      const out: BroadcastResponse[] = [];
      let settled = false;
      const fail = (msg: string, cause?: unknown): void => {
        if (settled) return;
        settled = true;
        call.cancel();
        reject(new OrdererError("RPC_FAILED", msg, { cause }));
      };
      call.on("data", (bytes: Uint8Array) => {
        try {
          out.push(BroadcastResponse.decode(bytes));
        } catch (err) {
          fail(`broadcast to ${endpoint}: an undecodable BroadcastResponse`, err);
          return;
        }
        if (out.length === envs.length && !settled) {
          settled = true;
          call.end();
          resolve(out);
        }
      });
      call.on("error", (err) => fail(`broadcast to ${endpoint} failed: ${err.message}`, err));
      call.on("end", () => fail(`broadcast to ${endpoint}: the stream ended after ${out.length} of ${envs.length} responses`));
      if (envs.length === 0) {
        settled = true;
        call.end();
        resolve(out);
        return;
      }
      for (const env of envs) call.write(Envelope.encode(env).finish());
    });
  } finally {
    client.close();
  }
}

/** Sends one envelope with `AtomicBroadcast.Broadcast` and returns the orderer's answer. */
export async function broadcast(endpoint: string, env: Envelope, opts: OrdererClientOptions = {}): Promise<BroadcastResponse> {
  const [res] = await broadcastAll(endpoint, [env], opts);
  if (res === undefined) throw new OrdererError("RPC_FAILED", `broadcast to ${endpoint}: no response`);
  return res;
}

/** What `deliver` yields: each block in order, then the final status. */
export type DeliverItem = { block: Block; bytes: Uint8Array } | { status: Status };

/**
 * Sends one signed SeekInfo envelope with `AtomicBroadcast.Deliver` and yields the blocks, then the
 * status that ends the request (the iteration stops there). Breaking out of the loop, or aborting
 * `signal`, cancels the stream. Throws OrdererError RPC_FAILED if the stream fails first.
 */
export async function* deliver(endpoint: string, seekEnv: Envelope, opts: OrdererClientOptions & { signal?: AbortSignal } = {}): AsyncGenerator<DeliverItem> {
  const client = await connect(endpoint, opts);
  const call = client.makeBidiStreamRequest<Uint8Array, Uint8Array>(DELIVER_PATH, passBytes, takeBytes);
  const onAbort = (): void => call.cancel();
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  let finished = false;
  try {
    call.write(Envelope.encode(seekEnv).finish());
    for await (const chunk of call as AsyncIterable<Uint8Array>) {
      const res = DeliverResponse.decode(chunk);
      const t = res.Type;
      if (t?.$case === "block") {
        // The block's exact bytes: field 2 of the response, whose framing is a tag byte and a varint length.
        let i = 1;
        while ((chunk[i] ?? 0) & 0x80) i++;
        yield { block: t.value, bytes: chunk.subarray(i + 1) };
      } else if (t?.$case === "status") {
        finished = true;
        yield { status: t.value };
        return;
      }
    }
    throw new OrdererError("RPC_FAILED", `deliver from ${endpoint}: the stream ended without a status`);
  } catch (err) {
    if (err instanceof OrdererError) throw err;
    if (opts.signal?.aborted) throw opts.signal.reason;
    throw new OrdererError("RPC_FAILED", `deliver from ${endpoint} failed: ${errorMessage(err)}`, { cause: err });
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    if (finished) call.end();
    else call.cancel();
    client.close();
  }
}
