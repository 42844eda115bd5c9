// Docker inspection → Container mapping: pure, no engine (the rig cannot run
// privileged containers, so the marker label is proven here).
import { assert, assertEquals } from "../_assert.ts";
import {
  containerFromInspection,
  type Inspection,
  PRIVILEGED_LABEL,
} from "../../adapters/docker/_inspection.ts";
import {
  isProcesslessContainerError,
  ProcesslessContainerError,
  type RucksackPacker,
} from "../../engineclient/mod.ts";

const ID = "4f2a".padEnd(64, "0");

function inspection(overrides: Partial<Inspection> = {}): Inspection {
  return {
    Id: ID,
    Name: "/web-1",
    State: { Running: true, Paused: false, Pid: 4242 },
    Config: {
      Labels: { "com.docker.compose.project": "shop", app: "web" },
    },
    HostConfig: { Privileged: false },
    ...overrides,
  };
}

Deno.test("docker inspection: id, name without slash, labels, pid, paused, project", () => {
  const c = containerFromInspection("web-1", inspection());
  assertEquals(c.id, ID);
  assertEquals(c.name, "web-1");
  assertEquals(c.pid, 4242);
  assertEquals(c.paused, false);
  assertEquals(c.project, "shop");
  assertEquals(c.labels[PRIVILEGED_LABEL], undefined);
  assertEquals(c.labels, { "com.docker.compose.project": "shop", app: "web" });
  assert(Object.isFrozen(c));
  const paused = containerFromInspection(
    ID,
    inspection({
      State: { Running: true, Paused: true, Pid: 7 },
      Config: { Labels: null },
    }),
  );
  assertEquals([paused.paused, paused.project, paused.labels], [true, "", {}]);
});

Deno.test("docker inspection: privileged containers get the marker label", () => {
  const c = containerFromInspection(
    ID,
    inspection({ HostConfig: { Privileged: true } }),
  );
  assertEquals(PRIVILEGED_LABEL, "whalewatcher/privileged");
  assertEquals(c.labels[PRIVILEGED_LABEL], "true");
  assertEquals(c.labels.app, "web");
});

Deno.test("docker inspection: no process → ProcesslessContainerError naming the container", () => {
  for (
    const state of [
      { Running: false, Pid: 0 }, // created or exited
      { Running: true, Pid: 0 }, // being torn down
      undefined,
    ]
  ) {
    let err: unknown;
    try {
      containerFromInspection("gone-1", inspection({ State: state }), {
        engine: "docker.com",
      });
    } catch (e) {
      err = e;
    }
    assert(err instanceof ProcesslessContainerError, String(err));
    assert(isProcesslessContainerError(err));
    assert(err.message.includes("gone-1"), err.message);
  }
});

Deno.test("docker inspection: the rucksack packer gets the container and Docker's inspection", () => {
  const seen: unknown[] = [];
  const packer: RucksackPacker = {
    pack(container, raw) {
      seen.push(container.name, container.rucksack, raw);
      return { restarts: (raw as { RestartCount?: number }).RestartCount };
    },
  };
  const raw = { ...inspection(), RestartCount: 3 };
  const c = containerFromInspection(ID, raw, { packer });
  assertEquals(c.rucksack, { restarts: 3 });
  assertEquals(seen, ["web-1", undefined, raw]);
  assertEquals(c.pid, 4242);
  // Without a packer there is no rucksack.
  assertEquals(containerFromInspection(ID, raw).rucksack, undefined);
});
