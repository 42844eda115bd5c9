// The one place tests take their assertions from: swapping to @std/assert
// later is a change of this file only.
export {
  deepStrictEqual as assertEquals,
  fail,
  match as assertMatch,
  notDeepStrictEqual as assertNotEquals,
  ok as assert,
  rejects as assertRejects,
  strictEqual as assertStrictEquals,
  throws as assertThrows,
} from "node:assert/strict";
