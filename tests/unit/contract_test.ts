// The engine-client contract's small pieces.

import {
  assert,
  assertEquals,
  assertStrictEquals,
  assertThrows,
} from "../_assert.ts";
import {
  COMPOSE_PROJECT_LABEL,
  isPreflighter,
  isProcesslessContainerError,
  isRucksackPacker,
  isSummaryLister,
  newContainer,
  ProcesslessContainerError,
  PROJECT_UNKNOWN,
  withPaused,
} from "../../engineclient/mod.ts";
import { backoffDelay } from "../../watcher/mod.ts";

Deno.test("newContainer: frozen, with defaults", () => {
  const labels = { app: "web" };
  const c = newContainer({ id: "4b1d", labels });
  assert(Object.isFrozen(c));
  assert(Object.isFrozen(c.labels));
  assertEquals(
    [c.id, c.name, c.pid, c.project, c.paused],
    ["4b1d", "4b1d", 0, "", false],
  );
  assertThrows(() => {
    (c as { pid: number }).pid = 1;
  }, TypeError);
});

Deno.test("newContainer: project from the compose label, unless given", () => {
  const labels = { [COMPOSE_PROJECT_LABEL]: "shop" };
  assertEquals(newContainer({ id: "a", labels }).project, "shop");
  assertEquals(
    newContainer({ id: "b", labels, project: "other" }).project,
    "other",
  );
  assertEquals(PROJECT_UNKNOWN, "\0");
});

Deno.test("withPaused: same object when unchanged, a new frozen one else", () => {
  const c = newContainer({ id: "a", pid: 7 });
  assertStrictEquals(withPaused(c, false), c);
  const p = withPaused(c, true);
  assert(p !== c && Object.isFrozen(p));
  assertEquals([p.paused, p.pid, p.id], [true, 7, "a"]);
});

Deno.test("ProcesslessContainerError: message names the container; guard", () => {
  const err = new ProcesslessContainerError("web", { engine: "docker.com" });
  assertEquals(err.message, 'docker.com container "web" has no process');
  assertEquals([err.container, err.engine, err.name], [
    "web",
    "docker.com",
    "ProcesslessContainerError",
  ]);
  assert(isProcesslessContainerError(err));
  assert(!isProcesslessContainerError(new Error("web")));
  assert(!isProcesslessContainerError(undefined));
});

Deno.test("capability guards", () => {
  assert(isPreflighter({ preflight: () => Promise.resolve() }));
  assert(!isPreflighter({}));
  assert(!isPreflighter(null));
  assert(isRucksackPacker({ pack: () => 1 }));
  assert(!isRucksackPacker({ pack: 1 }));
  assert(isSummaryLister({ listSummaries: () => Promise.resolve([]) }));
  assert(!isSummaryLister({ listSummaries: [] }));
  assert(!isSummaryLister(undefined));
});

Deno.test("backoffDelay: capped exponential with jitter", () => {
  const o = { initialMs: 100, maxMs: 1000, jitter: 0 };
  assertEquals([0, 1, 2, 3, 4, 60].map((n) => backoffDelay(n, o)), [
    100,
    200,
    400,
    800,
    1000,
    1000,
  ]);
  for (let i = 0; i < 100; i++) {
    const d = backoffDelay(2, { initialMs: 100, jitter: 0.5 });
    assert(d >= 200 && d <= 600, `${d}`);
  }
  assertEquals(backoffDelay(0, { initialMs: 0 }), 0);
});
