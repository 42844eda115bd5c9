// Docker's event stream decoder: chunk boundaries, bad lines, mapping.
import { assertEquals } from "../_assert.ts";
import {
  decodeDockerEvent,
  EventLineDecoder,
  MAX_EVENT_LINE,
} from "../../adapters/docker/_event_decoder.ts";
import { PROJECT_UNKNOWN } from "../../engineclient/mod.ts";

function line(action: string, id: string, labels: Record<string, string> = {}) {
  return JSON.stringify({
    Type: "container",
    Action: action,
    Actor: { ID: id, Attributes: { name: id, ...labels } },
    time: 1700000000,
    timeNano: 1700000000123456789,
  }) + "\n";
}

Deno.test("docker decoder: several events in one chunk, in order", () => {
  const d = new EventLineDecoder();
  const events = d.push(
    line("start", "a") + line("pause", "a") + line("die", "b"),
  );
  assertEquals(events.map((e) => `${e.type}:${e.id}`), [
    "started:a",
    "paused:a",
    "exited:b",
  ]);
  assertEquals(events[0].timestamp, 1700000000123456789 / 1e6);
  assertEquals(d.skipped, 0);
});

Deno.test("docker decoder: an event split across chunks, even inside a UTF-8 character", () => {
  const bytes = new TextEncoder().encode(
    line("unpause", "c", { "com.docker.compose.project": "shöp" }),
  );
  const d = new EventLineDecoder();
  const out = [];
  for (let i = 0; i < bytes.length; i += 7) {
    out.push(...d.push(bytes.subarray(i, i + 7)));
  }
  assertEquals(out.length, 1);
  assertEquals(out[0].type, "unpaused");
  assertEquals(out[0].project, "shöp");
});

Deno.test("docker decoder: malformed, foreign and oversized lines are skipped and counted", () => {
  const d = new EventLineDecoder();
  const big = "x".repeat(MAX_EVENT_LINE + 10);
  const events = d.push(
    "{not json\n" + line("start", "ok1") +
      '{"Type":"network","Action":"connect"}\n' +
      big.slice(0, 100),
  );
  events.push(...d.push(big.slice(100) + "\n" + line("die", "ok2")));
  events.push(
    ...d.push("[1,2]\nnull\n" + '{"Action":"start","Actor":{"ID":5}}\n'),
  );
  assertEquals(events.map((e) => e.id), ["ok1", "ok2"]);
  assertEquals(d.skipped, 6);
});

Deno.test("docker decoder: projects from labels; podman exits without labels are unknown", () => {
  const withLabel = JSON.parse(
    line("die", "a", { "com.docker.compose.project": "p" }),
  );
  assertEquals(decodeDockerEvent(withLabel)?.project, "p");
  assertEquals(decodeDockerEvent(JSON.parse(line("die", "a")))?.project, "");
  assertEquals(
    decodeDockerEvent(JSON.parse(line("died", "a")), false)?.project,
    PROJECT_UNKNOWN,
  );
  assertEquals(
    decodeDockerEvent(JSON.parse(line("start", "a")), false)?.project,
    "",
  );
  assertEquals(decodeDockerEvent(JSON.parse(line("kill", "a"))), undefined);
});
