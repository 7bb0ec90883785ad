/**
 * DOM pieces of the viewer page: a plane view (canvas, slice slider, on-image readout), the MIP
 * view, the read-out texts, and the tabs of the right-hand side (Call, Margin, Help).
 */

import { h } from "./dom.mjs";
import { formatPet } from "./roi.mjs";

const VIEW_TITLES = { axial: "Axial", coronal: "Coronal", sagittal: "Sagittal" };

export function buildView(view) {
  const canvas = h("canvas", { testid: `canvas-${view}`, tabindex: "0", "aria-label": `${VIEW_TITLES[view]} view` });
  const slider = h("input", { type: "range", min: "0", max: "0", step: "1", value: "0", testid: `slider-${view}`, "aria-label": `${VIEW_TITLES[view]} slice` });
  const label = h("span", { class: "pv-view__slice", testid: `slice-${view}` }, "–");
  const readout = h("div", { class: "pv-view__readout", testid: `readout-${view}`, "aria-live": "off" });
  const body = h("div", { class: "pv-view__body" }, canvas, readout);
  const element = h("div", { class: `pv-view pv-view--${view}`, dataset: { view }, testid: `view-${view}` }, h("div", { class: "pv-view__head" }, h("span", { class: "pv-view__name" }, VIEW_TITLES[view]), slider, label), body);
  return { canvas, slider, label, body, element, readout };
}

export function buildMipView() {
  const canvas = h("canvas", { testid: "canvas-mip", tabindex: "0", "aria-label": "MIP view" });
  const body = h("div", { class: "pv-view__body" }, canvas);
  const element = h("div", { class: "pv-view pv-view--mip", dataset: { view: "mip" }, testid: "view-mip" },
    h("div", { class: "pv-view__head" }, h("span", { class: "pv-view__name" }, "MIP"), h("span", { class: "pv-muted" }, "tumour (orange), closest margin (red)")), body);
  return { canvas, body, element };
}

/** Short on-image value under the pointer: CT HU and PET (SUV or Bq/ml). */
export function shortReadout(p) {
  if (!p) return "";
  const parts = [];
  if (p.hu !== null) parts.push(`${p.hu} HU`);
  if (p.pet !== null) parts.push(p.petUnits === "SUV" ? `SUV ${formatPet(p.pet, "SUV")}` : `${formatPet(p.pet, "Bq/ml")} Bq/ml`);
  return parts.join(" · ");
}

export function formatReadout(p) {
  if (!p) return "Move the pointer over an image for position and values.";
  const [x, y, z] = p.mm.map((v) => v.toFixed(1));
  const parts = [`x ${x}  y ${y}  z ${z} mm`, `voxel [${p.kji.join(", ")}]`];
  if (p.hu !== null) parts.push(`CT ${p.hu} HU`);
  if (p.pet !== null) parts.push(p.petUnits === "SUV" ? `PET ${p.pet.toFixed(2)} SUV` : `PET ${Math.round(p.pet).toLocaleString()} Bq/ml`);
  if (p.uncertainty !== null) parts.push(`uncertainty ${p.uncertainty.toFixed(2)}`);
  const inside = [p.mine && "my mask", p.model && "model", p.gt && "ground truth"].filter(Boolean);
  if (inside.length) parts.push(`in: ${inside.join(", ")}`);
  return parts.join("   ·   ");
}

/** Tabs over `panes` ([[id, label, element]]); the first is shown. */
export function sideTabs(panes) {
  const tabButtons = panes.map(([id, text]) => h("button", { type: "button", role: "tab", class: "pv-tab", testid: `tab-${id}` }, text));
  const paneEls = panes.map(([id, , el]) => h("div", { class: "pv-pane", role: "tabpanel", testid: `pane-${id}` }, el));
  const showTab = (n) => {
    tabButtons.forEach((b, m) => b.setAttribute("aria-selected", String(m === n)));
    paneEls.forEach((p, m) => (p.hidden = m !== n));
  };
  tabButtons.forEach((b, n) => b.addEventListener("click", () => showTab(n)));
  showTab(0);
  return {
    elements: [h("div", { class: "pv-tabs", role: "tablist" }, tabButtons), ...paneEls],
    show: (id) => showTab(Math.max(0, panes.findIndex(([p]) => p === id))),
  };
}
