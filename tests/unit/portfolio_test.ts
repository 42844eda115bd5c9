// The portfolio and its projects: indexes, grouping, totals.

import { assert, assertEquals, assertStrictEquals } from "../_assert.ts";
import { newContainer, withPaused } from "../../engineclient/mod.ts";
import { Portfolio } from "../../watcher/mod.ts";
import { _portfolioWriter as writer } from "../../watcher/portfolio.ts";

const PROJECT = "com.docker.compose.project";

function fill() {
  const p = new Portfolio();
  const web = newContainer({
    id: "1",
    name: "web",
    labels: { [PROJECT]: "shop" },
  });
  const db = newContainer({
    id: "2",
    name: "db",
    labels: { [PROJECT]: "shop" },
  });
  const cache = newContainer({
    id: "3",
    name: "cache",
    labels: { [PROJECT]: "blog" },
  });
  const solo = newContainer({ id: "4", name: "solo" });
  for (const c of [web, db, cache, solo]) writer.set(p, c);
  return { p, web, db, cache, solo };
}

Deno.test("portfolio: lookups by ID and by name, totals", () => {
  const { p, web, solo } = fill();
  assertEquals(p.size, 4);
  assertStrictEquals(p.container("1"), web);
  assertStrictEquals(p.container("web"), web);
  assertStrictEquals(p.container("solo"), solo);
  assertEquals(p.container("nope"), undefined);
  assert(p.has("1"));
  assert(!p.has("web")); // has() is by ID only
  assertEquals(p.containers().map((c) => c.id).sort(), ["1", "2", "3", "4"]);
  assertEquals([...p].length, 4);
  assertEquals(p.projectCount, 3);
});

Deno.test("portfolio: containers grouped by project, '' for none", () => {
  const { p, db, solo } = fill();
  assertEquals(p.projectNames().sort(), ["", "blog", "shop"]);
  const shop = p.project("shop")!;
  assertEquals(shop.name, "shop");
  assertEquals(shop.size, 2);
  assertEquals(shop.containers().map((c) => c.name).sort(), ["db", "web"]);
  assertStrictEquals(shop.container("db"), db);
  assertStrictEquals(shop.container("2"), db);
  assertEquals(shop.container("solo"), undefined); // other project
  assert(shop.has("1"));
  assert(!shop.has("4"));
  assertStrictEquals(p.project("")!.container("solo"), solo);
  assertEquals(p.projects().map((x) => x.name).sort(), ["", "blog", "shop"]);
});

Deno.test("portfolio: a project vanishes with its last container", () => {
  const { p } = fill();
  const blog = p.project("blog")!;
  assertEquals(writer.delete(p, "3")?.name, "cache");
  assertEquals(p.project("blog"), undefined);
  assertEquals(blog.size, 0);
  assertEquals(blog.container("cache"), undefined);
  assertEquals(p.projectNames().sort(), ["", "shop"]);
  assertEquals(writer.delete(p, "3"), undefined);
  assertEquals(p.container("cache"), undefined);
  assertEquals(p.size, 3);
});

Deno.test("portfolio: replacing a container by ID updates every index", () => {
  const { p, web } = fill();
  const paused = withPaused(web, true);
  assertStrictEquals(writer.set(p, paused), web);
  assertStrictEquals(p.container("web"), paused);
  assertStrictEquals(p.project("shop")!.container("web"), paused);
  assertEquals(p.project("shop")!.size, 2);
  // A rename and a move to another project.
  const moved = newContainer({
    id: "1",
    name: "www",
    labels: { [PROJECT]: "blog" },
  });
  writer.set(p, moved);
  assertEquals(p.container("web"), undefined);
  assertStrictEquals(p.container("www"), moved);
  assertEquals(p.project("shop")!.size, 1);
  assertEquals(p.project("blog")!.size, 2);
  assertEquals(p.size, 4);
});

Deno.test("portfolio: repeated names (CRI) stay findable", () => {
  const p = new Portfolio();
  const a = newContainer({
    id: "a",
    name: "nginx",
    labels: { [PROJECT]: "x" },
  });
  const b = newContainer({
    id: "b",
    name: "nginx",
    labels: { [PROJECT]: "y" },
  });
  writer.set(p, a);
  writer.set(p, b);
  assertStrictEquals(p.container("nginx"), a);
  assertStrictEquals(p.project("y")!.container("nginx"), b);
  writer.delete(p, "a");
  assertStrictEquals(p.container("nginx"), b);
  writer.delete(p, "b");
  assertEquals(p.container("nginx"), undefined);
});

Deno.test("portfolio: containers() returns fresh arrays", () => {
  const { p } = fill();
  const first = p.containers();
  first.length = 0;
  assertEquals(p.containers().length, 4);
  const shop = p.project("shop")!.containers();
  shop.pop();
  assertEquals(p.project("shop")!.containers().length, 2);
  writer.delete(p, "1");
  assertEquals(p.containers().length, 3);
  assertEquals(p.project("shop")!.containers().length, 1);
});
