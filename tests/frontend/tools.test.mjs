import { test } from "node:test";
import assert from "node:assert/strict";
import { nativeHandles, SHORTCUTS } from "../../frontend/static/viewer/tools.mjs";

const el = (tagName, type, extra = {}) => ({ tagName, type, ...extra });

test("keys go to focused controls that use them natively, otherwise to the viewer", () => {
  assert.equal(nativeHandles(el("TEXTAREA"), "ArrowUp"), true);
  assert.equal(nativeHandles(el("INPUT", "number"), "b"), true);
  assert.equal(nativeHandles(el("INPUT", "radio"), "ArrowDown"), true);
  assert.equal(nativeHandles(el("INPUT", "radio"), "b"), false);
  assert.equal(nativeHandles(el("INPUT", "range"), "PageUp"), true);
  assert.equal(nativeHandles(el("SELECT"), "ArrowUp"), true);
  assert.equal(nativeHandles(el("BUTTON"), " "), true);
  assert.equal(nativeHandles(el("BUTTON"), "ArrowUp"), false, "arrows still scroll slices after clicking a tool button");
  assert.equal(nativeHandles(el("INPUT", "checkbox"), "Enter"), true);
  assert.equal(nativeHandles(el("CANVAS"), " "), false);
  assert.equal(nativeHandles(el("DIV", undefined, { isContentEditable: true }), "x"), true);
  assert.equal(nativeHandles(null, "x"), false);
});

test("the help panel lists the editing shortcuts", () => {
  const text = SHORTCUTS.map(([k, d]) => `${k} ${d}`).join("\n");
  for (const needle of ["Ctrl + Z", "Ctrl + Y", "Ctrl + S", "PgUp", "Polygon", "Brush radius", "Jump to the closest margin"]) assert.ok(text.includes(needle), needle);
});
