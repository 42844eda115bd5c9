// Prints how many tests ran per engine version, from `deno test`'s JUnit
// report and the rig's engine list (tests named `<engine label>: …` by
// engineTest):
//
//   deno run --allow-read summary.ts JUNIT_XML ENGINES_JSONL
const [report, enginesFile] = Deno.args;
if (!report || !enginesFile) {
  throw new Error("usage: summary.ts JUNIT_XML ENGINES_JSONL");
}

const xml = Deno.readTextFileSync(report);
const labels = new Set<string>();
for (const line of Deno.readTextFileSync(enginesFile).split("\n")) {
  if (!line) continue;
  const { kind, version } = JSON.parse(line);
  const short = String(version).replace(/[+~].*$/, "");
  labels.add(kind === "cri" ? `cri containerd ${short}` : `${kind} ${short}`);
}

const unescape = (s: string) =>
  s.replaceAll("&quot;", '"').replaceAll("&apos;", "'").replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">").replaceAll("&amp;", "&");

const counts = new Map<
  string,
  { passed: number; failed: number; ignored: number }
>();
for (const label of labels) {
  counts.set(label, { passed: 0, failed: 0, ignored: 0 });
}
const other = { passed: 0, failed: 0, ignored: 0 };
// Top-level test cases only: steps are nested in their test's report.
const testcase = /<testcase name="([^"]*)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g;
for (const m of xml.matchAll(testcase)) {
  const name = unescape(m[1]);
  const body = m[3] ?? "";
  const c = counts.get(name.slice(0, name.indexOf(": "))) ?? other;
  if (/<failure|<error/.test(body)) c.failed++;
  else if (/<skipped/.test(body)) c.ignored++;
  else c.passed++;
}

const line = (what: string, c: typeof other) =>
  `  ${what.padEnd(26)} ${c.passed} passed, ${c.failed} failed${
    c.ignored ? `, ${c.ignored} ignored` : ""
  }`;
console.log("tests per engine version:");
for (const [label, c] of counts) console.log(line(label, c));
console.log(line("(not engine-specific)", other));
