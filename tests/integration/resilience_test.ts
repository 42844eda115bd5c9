// The resilience suite's shortened form for CI (issue 9, items 1 and 3):
// two crash-and-restart rounds per engine and 10 s of churn. The full runs
// are scripts: tests/resilience/crash_restart.ts and churn.ts.
import { assert, assertEquals } from "../_assert.ts";
import { type EngineKind, engineTest } from "../engines/rig.ts";
import { crashRestart } from "../resilience/crash_restart.ts";
import { churn } from "../resilience/churn.ts";

for (const kind of ["docker", "containerd", "cri"] as EngineKind[]) {
  engineTest(
    kind,
    "resilience: killed and restarted twice under churn, portfolio = truth, every start matched",
    async (engine) => {
      const f = await crashRestart(engine, 2);
      assertEquals(f.details, []);
      assertEquals(f.mismatches, 0);
      assertEquals(f.unmatchedStarts, 0);
      assertEquals(f.inconsistent, 0);
      assert(f.churned > 0, "the churn loop started no container");
      // The initial list and one resync per round at least.
      assert(f.syncs >= 3, `only ${f.syncs} syncs in 2 rounds`);
    },
  );
}

engineTest(
  "docker",
  "resilience: 10 s of churn, fast subscriber loses nothing, slow one overflows and recovers",
  async (engine) => {
    const f = await churn(engine, {
      seconds: 10,
      containers: 40,
      slowQueueSize: 30,
      // More events than the slow subscriber's queue holds, however
      // loaded the machine.
      minStarted: 20,
    });
    assertEquals(f.details, []);
    assert(f.started >= 20, `only ${f.started} containers started`);
    assertEquals(f.stopped, f.started);
    assertEquals(f.lost, 0);
    assertEquals(f.fastFailed, false);
    assertEquals(f.mismatches, 0);
    assert(f.overflows >= 1, "the slow subscriber never overflowed");
    assertEquals(f.recoveries, f.overflows);
    assert(f.slowViewRight, "the slow subscriber's view is not the portfolio");
  },
);
