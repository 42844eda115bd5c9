import { assertEquals } from "../_assert.ts";
import {
  criLabels,
  podInfo,
  verboseInfo,
  verbosePid,
} from "../../adapters/cri/_labels.ts";
import { aliveDiff } from "../../adapters/cri/_relist.ts";

const SANDBOX = {
  id: "s1",
  metadata: { name: "web", namespace: "shop", uid: "u-1", attempt: 0 },
  labels: { app: "web" },
  annotations: { note: "hi" },
};

Deno.test("cri labels: sandbox gets pod keys, marker and annotations", () => {
  const pod = podInfo(SANDBOX);
  assertEquals(criLabels(SANDBOX, pod, { annotationPrefix: "annotation." }), {
    app: "web",
    "annotation.note": "hi",
    "io.kubernetes.pod.name": "web",
    "io.kubernetes.pod.namespace": "shop",
    "io.kubernetes.pod.uid": "u-1",
    "io.kubernetes.container.name": "POD",
    "whalewatcher/sandbox": "true",
  });
});

Deno.test("cri labels: container gets pod keys and sandbox ID; pod keys win", () => {
  const pod = podInfo(SANDBOX);
  const own = {
    labels: { "io.kubernetes.pod.name": "spoofed", tier: "1" },
    annotations: { a: "b" },
  };
  assertEquals(
    criLabels(own, pod, { containerName: "nginx", annotationPrefix: null }),
    {
      tier: "1",
      "io.kubernetes.pod.name": "web",
      "io.kubernetes.pod.namespace": "shop",
      "io.kubernetes.pod.uid": "u-1",
      "io.kubernetes.container.name": "nginx",
      "whalewatcher/sandbox-id": "s1",
    },
  );
  assertEquals(
    criLabels({}, undefined, { containerName: "c", annotationPrefix: "x/" }),
    { "io.kubernetes.container.name": "c" },
  );
});

Deno.test("cri labels: verbose info PID, malformed input gives 0", () => {
  assertEquals(verbosePid({ info: '{"pid": 4242, "sandboxID": "s"}' }), 4242);
  assertEquals(verboseInfo({ info: '{"sandboxID": "s"}' }), { sandboxID: "s" });
  for (
    const info of [
      undefined,
      {},
      { info: "" },
      { info: "{" },
      { info: "null" },
      { info: "[1]" },
      { info: '{"pid": "12"}' },
      { info: '{"pid": -1}' },
      { info: '{"pid": 1.5}' },
      { info: '{"pid": 1e300}' },
    ]
  ) {
    assertEquals(verbosePid(info as Record<string, string>), 0);
  }
});

Deno.test("cri relisting: diff gives exits and starts", () => {
  assertEquals(aliveDiff(new Set(["a", "b", "c"]), new Set(["b", "d"])), {
    exited: ["a", "c"],
    started: ["d"],
  });
  assertEquals(aliveDiff(new Set(["a"]), new Set(["a"])), {
    exited: [],
    started: [],
  });
});
