// Hostile input: every decoder takes 10,000+ generated malformed,
// truncated, oversized and wrong-typed inputs without throwing or hanging,
// and each rejected input is counted. Seeded, so failures reproduce.
import { assert, assertEquals } from "../_assert.ts";
import {
  EventLineDecoder,
  MAX_EVENT_LINE,
} from "../../adapters/docker/_event_decoder.ts";
import { decodeTaskEnvelope } from "../../adapters/containerd/_events.ts";
import { verbosePid } from "../../adapters/cri/_labels.ts";
import { criEventFields } from "../../adapters/cri/_events.ts";
import { loadProtos } from "../../adapters/_grpc/mod.ts";
import { CONTAINERD_PROTOS } from "../../protos/containerd/_protos.ts";
import { RUNTIME_V1_PROTO } from "../../protos/cri/_runtime_v1.ts";

const N = 10_000;

/** mulberry32: a small seeded PRNG. */
function rng(seed: number) {
  let a = seed;
  const next = () => {
    a |= 0;
    a = (a + 0x6D2B79F5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)],
    bytes: (n: number) => {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = Math.floor(next() * 256);
      return b;
    },
  };
}

const WRONG_VALUES: unknown[] = [
  null,
  0,
  -1,
  1.5,
  NaN,
  "",
  "x",
  true,
  [],
  [1],
  {},
  { a: 1 },
  "\u0000",
  "😀".repeat(3),
  1e308,
];

Deno.test("fuzz: docker event lines — malformed, truncated, oversized, wrong-typed", () => {
  const r = rng(1);
  const valid = (action: string, id: string) =>
    JSON.stringify({
      Type: "container",
      Action: action,
      Actor: { ID: id, Attributes: { "com.docker.compose.project": "p" } },
      timeNano: 1700000000000000000,
    });
  const lines: string[] = [];
  let good = 0;
  for (let i = 0; i < N; i++) {
    const base = valid(r.pick(["start", "die", "pause", "unpause"]), `c${i}`);
    switch (r.int(7)) {
      case 0: // intact
        lines.push(base);
        good++;
        break;
      case 1: // truncated
        lines.push(base.slice(0, 1 + r.int(base.length - 2)));
        break;
      case 2: { // a field of the wrong type
        const obj = JSON.parse(base);
        const field = r.pick(["Type", "Action", "Actor", "timeNano", "id"]);
        const value = r.pick(WRONG_VALUES);
        obj[field] = value;
        // A null Type is a missing one, which means "container".
        const keepsGood = field === "timeNano" || field === "id" ||
          (field === "Type" && JSON.stringify(value ?? null) === "null");
        if (keepsGood) good++;
        lines.push(JSON.stringify(obj));
        break;
      }
      case 3: { // Actor.ID of the wrong type
        const obj = JSON.parse(base);
        obj.Actor.ID = r.pick(
          WRONG_VALUES.filter((v) => typeof v !== "string"),
        );
        lines.push(JSON.stringify(obj));
        break;
      }
      case 4: // random bytes as text (no newline inside)
        lines.push(
          new TextDecoder().decode(r.bytes(1 + r.int(200))).replaceAll(
            "\n",
            " ",
          ) + "x",
        );
        break;
      case 5: // valid JSON of the wrong shape
        lines.push(JSON.stringify(r.pick(WRONG_VALUES)) ?? "null");
        break;
      default: // oversized, rarely
        if (r.int(200) === 0) lines.push("{" + "x".repeat(MAX_EVENT_LINE + 1));
        else {
          lines.push(base);
          good++;
        }
    }
  }
  // Feed the stream in random chunks, as HTTP would.
  const bytes = new TextEncoder().encode(lines.join("\n") + "\n");
  const d = new EventLineDecoder();
  let decoded = 0;
  let at = 0;
  while (at < bytes.length) {
    const size = 1 + r.int(r.int(10) === 0 ? 100_000 : 300);
    decoded += d.push(bytes.subarray(at, at + size)).length;
    at += size;
  }
  // Lines whose random bytes happen to be blank are not events at all.
  const blank = lines.filter((l) => l.trim() === "").length;
  assertEquals(decoded, good);
  assertEquals(decoded + d.skipped + blank, lines.length);
  assert(d.skipped > N / 2);
});

Deno.test("fuzz: containerd Any payloads — random, truncated, mistyped", () => {
  const r = rng(2);
  const protos = loadProtos(CONTAINERD_PROTOS);
  const decode = (type: string, b: Uint8Array) => protos.decode(type, b);
  const types = {
    "/tasks/start": "containerd.events.TaskStart",
    "/tasks/exit": "containerd.events.TaskExit",
    "/tasks/paused": "containerd.events.TaskPaused",
    "/tasks/resumed": "containerd.events.TaskResumed",
  } as const;
  let events = 0, rejected = 0, none = 0;
  for (let i = 0; i < N; i++) {
    const topic = r.pick([...Object.keys(types), "/tasks/oom", "", "x"]);
    const typeName = types[topic as keyof typeof types] ??
      "containerd.events.TaskStart";
    const t = protos.root.lookupType(typeName);
    const valid = t.encode(
      t.fromObject({ container_id: `c${i}`, id: `c${i}`, pid: 42 }),
    ).finish();
    let value: unknown;
    let typeUrl = `containerd.events.${typeName.split(".").pop()}`;
    switch (r.int(6)) {
      case 0:
        value = valid;
        break;
      case 1:
        value = valid.subarray(0, r.int(valid.length));
        break;
      case 2:
        value = r.bytes(r.int(64));
        break;
      case 3:
        value = r.bytes(r.int(1) + 100_000); // oversized garbage
        break;
      case 4:
        value = valid;
        typeUrl = r.pick(["", "nonsense", "containerd.events.ContainerCreate"]);
        break;
      default:
        value = r.pick(WRONG_VALUES);
    }
    const envelope = r.int(50) === 0 ? r.pick(WRONG_VALUES) as never : {
      namespace: r.int(20) === 0 ? r.pick(WRONG_VALUES) : "default",
      topic,
      timestamp: { seconds: 1, nanos: 2 },
      event: r.int(30) === 0 ? r.pick(WRONG_VALUES) : {
        type_url: typeUrl,
        value,
      },
    };
    const result = decodeTaskEnvelope(envelope, decode);
    if (result === null) rejected++;
    else if (result === undefined) none++;
    else {
      events++;
      assert(typeof result.id === "string" && result.id.length > 0);
    }
  }
  assertEquals(events + rejected + none, N);
  assert(rejected > N / 4, `only ${rejected} rejected`);
  assert(events > 0);
});

Deno.test("fuzz: CRI event messages and verbose info JSON — wrong-typed and malformed", () => {
  const r = rng(3);
  const protos = loadProtos({ "runtime_v1.proto": RUNTIME_V1_PROTO });
  const t = protos.root.lookupType("runtime.v1.ContainerEventResponse");
  const kinds = [
    "CONTAINER_CREATED_EVENT",
    "CONTAINER_STARTED_EVENT",
    "CONTAINER_STOPPED_EVENT",
    "CONTAINER_DELETED_EVENT",
  ];
  let malformed = 0, undecodable = 0, classified = 0;
  for (let i = 0; i < N; i++) {
    let message: unknown;
    if (r.int(3) === 0) {
      // Wire bytes: valid, truncated or random, through the real decoder.
      const valid = t.encode(t.fromObject({
        container_id: `c${i}`,
        container_event_type: r.int(4),
        created_at: 1700000000000000000,
      })).finish();
      const bytes = r.int(2) === 0
        ? valid.subarray(0, r.int(valid.length + 1))
        : r.bytes(r.int(80));
      try {
        message = protos.decode("runtime.v1.ContainerEventResponse", bytes);
      } catch {
        undecodable++; // grpc-js fails the stream: the adaptor resubscribes
        continue;
      }
    } else {
      message = {
        container_id: r.int(4) === 0 ? r.pick(WRONG_VALUES) : `c${i}`,
        container_event_type: r.int(4) === 0
          ? r.pick(WRONG_VALUES)
          : r.pick(kinds),
        created_at: r.int(3) === 0 ? r.pick(WRONG_VALUES) : 1700000000000000000,
      };
      if (r.int(40) === 0) message = r.pick(WRONG_VALUES);
    }
    const fields = criEventFields(message);
    if (fields.kind === "malformed") malformed++;
    else {
      classified++;
      assert(typeof fields.id === "string" && fields.id !== "");
      if (fields.kind === "started" || fields.kind === "exited") {
        assert(Number.isFinite(fields.timestamp) && fields.timestamp >= 0);
      }
    }
  }
  assertEquals(malformed + undecodable + classified, N);
  assert(malformed > N / 10);

  let zero = 0;
  for (let i = 0; i < N; i++) {
    const pid = r.pick<unknown>([
      42,
      -3,
      0,
      1.5,
      "42",
      null,
      2 ** 60,
      {},
      [],
    ]);
    const json = JSON.stringify({ pid, other: "x" });
    const info: Record<string, string> = {};
    switch (r.int(5)) {
      case 0:
        info.info = json;
        break;
      case 1:
        info.info = json.slice(0, r.int(json.length));
        break;
      case 2:
        info.info = new TextDecoder().decode(r.bytes(r.int(100)));
        break;
      case 3:
        (info as Record<string, unknown>).info = r.pick(WRONG_VALUES);
        break;
      default:
        info.info = JSON.stringify(r.pick(WRONG_VALUES)) ?? "";
    }
    const got = verbosePid(info);
    assert(Number.isSafeInteger(got) && got >= 0);
    if (got === 0) zero++;
    else assertEquals(got, 42);
  }
  assert(zero > N / 2);
});
