/**
 * Loads `.proto` sources embedded as strings (so the module works when
 * imported from a registry, where files beside it cannot be read).
 *
 * @module
 */

import protobuf from "protobufjs";
import {
  fromJSON,
  type MethodDefinition,
  type PackageDefinition,
} from "@grpc/proto-loader";

/** A generic message as decoded by proto-loader (snake_case keys). */
// deno-lint-ignore no-explicit-any
export type Message = Record<string, any>;

/**
 * Loaded protos: the protobufjs root (to decode `Any` payloads) and the
 * proto-loader package definition (methods for grpc-js).
 *
 * @example
 * ```ts ignore
 * import { loadProtos } from "./proto.ts";
 * const protos = loadProtos({ "v.proto": 'syntax = "proto3"; package p; message M { string s = 1; }' });
 * console.log(protos.decode("p.M", new Uint8Array()));
 * ```
 */
export interface ProtoSet {
  /** The protobufjs root holding every parsed type. */
  readonly root: protobuf.Root;
  /** The proto-loader package definition made from the root. */
  readonly definition: PackageDefinition;
  /** The method `name` of the fully qualified `service`; throws when unknown. */
  method(service: string, name: string): MethodDefinition<Message, Message>;
  /**
   * Decodes `bytes` as the fully qualified message `type` into a plain
   * object (snake_case keys, defaults filled in, 64-bit numbers as
   * `number`, enums as names); throws when the type is unknown or the
   * bytes are malformed.
   */
  decode(type: string, bytes: Uint8Array): Message;
}

// Defaults filled in: without them enum value 0 and zero numbers are absent.
const CONVERSION = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
} as const;

/**
 * Parses `.proto` sources (file name → text) into one {@linkcode ProtoSet}.
 * Imports between the given sources need no resolution (all land in one
 * root); imports of Google's well-known types (`google/protobuf/*.proto`)
 * are served from protobufjs' bundled copies.
 *
 * @example
 * ```ts ignore
 * import { loadProtos } from "./proto.ts";
 * const protos = loadProtos({ "a.proto": 'syntax = "proto3"; package a; message M { uint32 n = 1; }' });
 * console.log(protos.root.lookupType("a.M").name); // "M"
 * ```
 */
export function loadProtos(
  sources: Readonly<Record<string, string>>,
): ProtoSet {
  const root = new protobuf.Root();
  const wellKnown = new Set<string>();
  for (const [file, text] of Object.entries(sources)) {
    let parsed;
    try {
      parsed = protobuf.parse(text, root, { keepCase: true });
    } catch (err) {
      throw new Error(`cannot parse proto "${file}": ${err}`, { cause: err });
    }
    for (const imp of parsed.imports ?? []) {
      if (imp.startsWith("google/protobuf/")) wellKnown.add(imp);
    }
  }
  for (const file of wellKnown) {
    const json = protobuf.common.get(file);
    if (!json) throw new Error(`unknown well-known proto "${file}"`);
    root.addJSON(json.nested!);
  }
  root.resolveAll();
  const definition = fromJSON(root.toJSON(), CONVERSION);
  const types = new Map<string, protobuf.Type>();
  return {
    root,
    definition,
    method(service, name) {
      const svc = definition[service] as
        | Record<string, MethodDefinition<Message, Message>>
        | undefined;
      const method = svc?.[name];
      if (!method || typeof method.path !== "string") {
        throw new Error(`unknown gRPC method "${service}/${name}"`);
      }
      return method;
    },
    decode(type, bytes) {
      let t = types.get(type);
      if (!t) {
        t = root.lookupType(type);
        types.set(type, t);
      }
      return t.toObject(t.decode(bytes), CONVERSION) as Message;
    },
  };
}
