// Knowing when containerd's event subscription is live (internal).
//
// containerd sends nothing on a new subscription (no response headers, no
// first message) until an event matches, so a client cannot see when the
// subscription is registered. The adaptor confirms it by publishing one
// empty event on a topic unique to the subscription until it comes back
// through the stream; without that confirmation (option
// `confirmSubscription: false`, for a strictly read-only client) a unary
// call made after the subscription request has to do, which leaves a
// window of a few microseconds that the periodic reconciliation heals.
import * as grpc from "@grpc/grpc-js";
import type { MethodDefinition } from "@grpc/proto-loader";
import { delay } from "../../engineclient/_async.ts";
import {
  isGrpcStatus,
  type Message,
  type ServerStream,
  unaryCall,
} from "../_grpc/mod.ts";

/** The topic prefix of the confirmation events. */
export const HANDSHAKE_TOPIC = "/whalewatcher/subscribed";

const EMPTY_TYPE_URL = "types.googleapis.com/google.protobuf.Empty";

/** What a confirmation needs of the client. */
export interface Publisher {
  grpc: grpc.Client;
  publish: MethodDefinition<Message, Message>;
  metadata: grpc.Metadata;
}

/**
 * Publishes an empty event on `topic` until it arrives on `stream` (the
 * subscription may not be registered yet when the first one goes out),
 * collecting the envelopes that arrive before it in `pending`. Resolves
 * with the read still outstanding when publishing was refused (then the
 * subscription goes on unconfirmed).
 */
export async function confirmSubscription(
  stream: ServerStream<Message>,
  topic: string,
  pending: Message[],
  options: Publisher & { signal?: AbortSignal; endpoint: string },
): Promise<{ next: Promise<IteratorResult<Message>> } | undefined> {
  let seen = false;
  const publisher = publishUntilSeen(topic, () => seen, options);
  // A promise that only settles when publishing was refused.
  const refused = publisher.then((state) =>
    state === "refused" ? "refused" as const : new Promise<never>(() => {})
  );
  try {
    let next = stream.next();
    while (true) {
      const step = await Promise.race([
        next.then((result) => ({ result })),
        refused,
      ]);
      if (step === "refused") return { next }; // go on unconfirmed
      const { result } = step;
      if (result.done) {
        options.signal?.throwIfAborted();
        throw new Error(
          `containerd event stream of "${options.endpoint}" ended before it was confirmed`,
        );
      }
      if (result.value.topic === topic) return undefined;
      pending.push(result.value);
      next = stream.next();
    }
  } finally {
    seen = true;
    await publisher;
  }
}

async function publishUntilSeen(
  topic: string,
  seen: () => boolean,
  options: Publisher & { signal?: AbortSignal },
): Promise<"refused" | "stopped"> {
  const { signal } = options;
  for (let wait = 1; !seen(); wait = Math.min(wait * 2, 1000)) {
    try {
      await unaryCall(options.grpc, options.publish, {
        topic,
        event: { type_url: EMPTY_TYPE_URL, value: new Uint8Array() },
      }, { metadata: options.metadata, signal });
    } catch (err) {
      if (signal?.aborted) return "stopped";
      if (
        isGrpcStatus(err, grpc.status.UNIMPLEMENTED) ||
        isGrpcStatus(err, grpc.status.PERMISSION_DENIED)
      ) return "refused";
      // Other failures show on the stream too; keep trying meanwhile.
    }
    if (seen()) break;
    try {
      await delay(wait, signal);
    } catch {
      return "stopped";
    }
  }
  return "stopped";
}
