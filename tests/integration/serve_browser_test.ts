// The live page (`GET /`) in a real browser: Debian's headless Chromium,
// driven by puppeteer-core, shows the rig's containers grouped by engine and
// compose project, then follows a container started and one stopped on the
// rig, through the page's own /events stream. With a token, the page works
// when given the token in its URL fragment, and a page without it shows
// nothing. Screenshots go to the test's temp folder (and, with
// WW_SERVE_SCREENSHOT=PATH, the first one also to PATH: docs/serve.png is
// made that way).

import { assert, assertEquals } from "../_assert.ts";
import {
  CHROMIUM,
  closeChromium,
  consumerTest,
  launchChromium,
  until,
} from "../engines/consumers.ts";
import type { Rig } from "../engines/rig.ts";
import { docker } from "../engines/docker.ts";
import { Fleet } from "../../mod.ts";
import { startAgent } from "../../serve/mod.ts";
import type { Page } from "puppeteer-core";

/** What the page shows: engines, their projects and container IDs. */
interface Shown {
  type: string;
  api: string;
  projects: Record<string, string[]>;
}

// The in-page code is text: this file is type-checked without the DOM's
// types, which clash with Deno's.
const SHOWN = `Array.from(document.querySelectorAll("section.engine")).map(
  (engine) => ({
    type: engine.dataset.type,
    api: engine.dataset.api,
    projects: Object.fromEntries(
      Array.from(engine.querySelectorAll("section.project")).map((project) => [
        project.dataset.project,
        Array.from(project.querySelectorAll("tr.container"))
          .map((row) => row.dataset.id).sort(),
      ]),
    ),
  }),
)`;

function shown(page: Page): Promise<Shown[]> {
  return page.evaluate(SHOWN) as Promise<Shown[]>;
}

/** The events of the page's feed, as `type id`. */
function feed(page: Page): Promise<string[]> {
  return page.evaluate(
    `Array.from(document.querySelectorAll("#feed li.event"))
      .map((li) => li.dataset.type + " " + li.dataset.id)`,
  ) as Promise<string[]>;
}

/** The text of the first element matching `selector` ("" when none). */
function text(page: Page, selector: string): Promise<string> {
  return page.evaluate(
    `document.querySelector(${JSON.stringify(selector)})?.textContent ?? ""`,
  ) as Promise<string>;
}

/** The rig's Docker engine as the page shows it (projects: sorted IDs). */
async function dockerShown(page: Page, rig: Rig) {
  const engines = await shown(page);
  return engines.find((e) => e.api.endsWith(rig.dockerSocket))?.projects;
}

/** Waits until the page shows exactly `expected` for the rig's Docker. */
async function expectShown(
  page: Page,
  rig: Rig,
  expected: Record<string, string[]>,
  what: string,
): Promise<void> {
  // Projects in name order, IDs sorted: the page's order is its own.
  const canonical = (projects: Record<string, string[]> | undefined) =>
    projects &&
    JSON.stringify(
      Object.entries(projects).map(([p, ids]) => [p, [...ids].sort()]).sort(),
    );
  const want = canonical(expected);
  let last: string | undefined;
  await until(what, async () => {
    last = canonical(await dockerShown(page, rig));
    return last === want;
  }, { timeoutMs: 15_000, intervalMs: 100 }).catch((error) => {
    throw new Error(
      `${error.message}\nwanted: ${want}\nshown:  ${last}`,
    );
  });
}

async function run(...args: string[]): Promise<string> {
  return await docker("run", "-d", ...args);
}

function compose(project: string, service: string): string[] {
  return [
    "--name",
    `${project}-${service}-1`,
    "-l",
    `com.docker.compose.project=${project}`,
    "-l",
    `com.docker.compose.service=${service}`,
  ];
}

async function screenshot(page: Page, path: string): Promise<void> {
  await page.screenshot({ path, type: "png", fullPage: true });
  const png = await Deno.readFile(path);
  // A PNG, and not a blank one: more than a few hundred bytes.
  assertEquals(Array.from(png.slice(1, 4)), [0x50, 0x4e, 0x47]);
  assert(png.length > 5_000, `screenshot ${path} has ${png.length} bytes`);
}

async function startFleet(rig: Rig): Promise<Fleet> {
  const fleet = new Fleet({
    endpoints: [rig.dockerSocket],
    explicitOnly: true,
    types: ["docker.com"],
  });
  await fleet.ready;
  return fleet;
}

consumerTest(
  "serve: the live page in Chromium shows the rig's containers by project and follows a start and a stop",
  { tools: [CHROMIUM], rig: true },
  async (rig) => {
    const dir = await Deno.makeTempDir({ prefix: "ww-browser-" });
    const ids: string[] = [];
    const started = async (...args: string[]) => {
      const id = await run(...args);
      ids.push(id);
      return id;
    };
    try {
      // Two containers of project "shop", one of "metrics", two without.
      const web = await started(...compose("shop", "web"), rig.image);
      const db = await started(...compose("shop", "db"), rig.image);
      const scraper = await started(
        ...compose("metrics", "scraper"),
        rig.image,
      );
      const loner = await started("--name", "scratchpad", rig.image);
      const batch = await started("--name", "nightly-batch", rig.image);
      await docker("pause", batch);

      await using fleet = await startFleet(rig);
      await using agent = await startAgent({ fleet, listen: "127.0.0.1:0" });
      const browser = await launchChromium(dir);
      try {
        const page = await browser.newPage();
        await page.setViewport({ width: 1000, height: 440 });
        const response = await page.goto(agent.url, {
          waitUntil: "domcontentloaded",
        });
        assertEquals(response?.status(), 200);
        await expectShown(page, rig, {
          shop: [web, db],
          metrics: [scraper],
          "": [loner, batch],
        }, "the page to show the rig's containers by project");
        const paused = await page.evaluate(
          `Array.from(document.querySelectorAll("tr.container"))
            .filter((row) => row.dataset.paused === "true")
            .map((row) => row.dataset.id)`,
        );
        assertEquals(paused, [batch]);

        // A container started on the rig appears in its project, one
        // stopped leaves; the feed has both events.
        const api = await started(...compose("shop", "api"), rig.image);
        await docker("rm", "-f", loner);
        ids.splice(ids.indexOf(loner), 1);
        await expectShown(page, rig, {
          shop: [web, db, api],
          metrics: [scraper],
          "": [batch],
        }, "the page to show the started container and drop the stopped one");
        await until("the feed to list the start and the exit", async () => {
          const items = await feed(page);
          return items.includes(`started ${api}`) &&
            items.includes(`exited ${loner}`);
        }, { timeoutMs: 15_000 });

        // Pause and unpause show in the row and the feed.
        const pausedIds = () =>
          page.evaluate(
            `Array.from(document.querySelectorAll("tr.container"))
              .filter((row) => row.dataset.paused === "true")
              .map((row) => row.dataset.id).sort()`,
          ) as Promise<string[]>;
        await docker("pause", db);
        await until(
          "the page to show the paused container",
          async () =>
            JSON.stringify(await pausedIds()) ===
              JSON.stringify([batch, db].sort()),
          { timeoutMs: 15_000 },
        );
        await docker("unpause", db);
        await until(
          "the page to show the container running again",
          async () =>
            JSON.stringify(await pausedIds()) === JSON.stringify([batch]) &&
            (await feed(page)).includes(`unpaused ${db}`),
          {
            timeoutMs: 15_000,
          },
        );
        assert((await feed(page)).includes(`paused ${db}`));

        await screenshot(page, `${dir}/serve.png`);
        const copy = Deno.env.get("WW_SERVE_SCREENSHOT");
        if (copy) await Deno.copyFile(`${dir}/serve.png`, copy);
      } finally {
        await closeChromium(browser);
      }
    } finally {
      if (ids.length) await docker("rm", "-f", ...ids);
      await Deno.remove(dir, { recursive: true });
    }
  },
);

consumerTest(
  "serve: with a token the live page works from its #token= fragment, and shows nothing without it",
  { tools: [CHROMIUM], rig: true },
  async (rig) => {
    const dir = await Deno.makeTempDir({ prefix: "ww-browser-" });
    const ids: string[] = [];
    try {
      ids.push(await run(...compose("tokened", "web"), rig.image));
      const token = crypto.randomUUID();
      await using fleet = await startFleet(rig);
      await using agent = await startAgent({
        fleet,
        listen: "127.0.0.1:0",
        token,
      });
      const browser = await launchChromium(dir);
      try {
        const without = await browser.newPage();
        await without.goto(agent.url, { waitUntil: "domcontentloaded" });
        const page = await browser.newPage();
        await page.goto(`${agent.url}#token=${encodeURIComponent(token)}`, {
          waitUntil: "domcontentloaded",
        });
        await expectShown(
          page,
          rig,
          { tokened: [ids[0]] },
          "the page with the token to show the container",
        );
        // A marker event after both pages were open: once the page with
        // the token has it, the one without had every chance to get it.
        ids.push(await run(...compose("tokened", "marker"), rig.image));
        await expectShown(
          page,
          rig,
          { tokened: [ids[0], ids[1]] },
          "the page with the token to show the marker container",
        );
        assertEquals(await dockerShown(without, rig), undefined);
        assertEquals(await feed(without), []);
        // ... and it says why.
        await until(
          "the page without the token to say it is not authorized",
          async () =>
            (await text(without, "#error")).includes("not authorized"),
          { timeoutMs: 15_000 },
        );
        await screenshot(page, `${dir}/serve-token.png`);
      } finally {
        await closeChromium(browser);
      }
    } finally {
      if (ids.length) await docker("rm", "-f", ...ids);
      await Deno.remove(dir, { recursive: true });
    }
  },
);
