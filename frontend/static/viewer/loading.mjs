/**
 * Loading a case into the Viewer: its volumes in parallel (CT first, progress in the status line),
 * and the model's result while its run is still going (a 5 s poll, or `reloadModel` when the case
 * page sees the run finish).
 */

export const FINISHED_RUNS = new Set(["succeeded", "success", "done", "completed", "finished", "failed", "error", "cancelled"]);

/** Loads every volume the user may see; resolves to {label: "done" | "failed"} once all have settled. */
export async function loadVolumes({ api, viewer, grid, caseData, canSeeModel, canSeeGT, setStatus }) {
  const expect = (dtype) => ({ dtype, shape: grid.shape });
  const vols = caseData.volumes || {};
  const loads = [];
  const progress = {};
  const showProgress = () => {
    const pending = Object.entries(progress).filter(([, s]) => s === "loading").map(([n]) => n);
    const failed = Object.entries(progress).filter(([, s]) => s === "failed").map(([n]) => n);
    if (failed.length) setStatus(`Could not load: ${failed.join(", ")}.`, "error");
    else if (pending.length) setStatus(`Loading ${pending.join(", ")}…`);
  };
  const load = (label, url, dtype, into, priority = "low") => {
    if (!url) return;
    progress[label] = "loading";
    loads.push(
      api.loadVolume(url, { expect: expect(dtype), priority }).then(
        (vol) => {
          into(vol.data);
          progress[label] = "done";
          showProgress();
        },
        (err) => {
          progress[label] = "failed";
          console.error(label, err);
          showProgress();
        },
      ),
    );
  };
  load("CT", vols.ct, "int16", (d) => viewer.setVolume("ct", d), "high");
  load("PET", vols.pet, "float32", (d) => viewer.setVolume("pet", d));
  // The newest version of the specimen surface (a person's correction included) where one may see it.
  const specimenUrl = caseData.specimen_surface?.latest?.mask_url || vols.specimen;
  load("specimen", specimenUrl, "uint8", (d) => viewer.setVolume("specimen", d));
  if (canSeeModel) {
    load("model mask", vols.model_mask, "uint8", (d) => viewer.setVolume("model", d));
    load("uncertainty", vols.uncertainty, "float32", (d) => viewer.setVolume("uncertainty", d));
    viewer.setMargin(caseData.margin);
  }
  if (canSeeGT) load("ground truth", vols.ground_truth, "uint8", (d) => viewer.setVolume("gt", d));
  if (caseData.my_segmentation?.url) {
    load("my mask", caseData.my_segmentation.url, "uint8", (d) => viewer.loadMask(d));
  }
  showProgress();
  await Promise.all(loads);
  return progress;
}

/** Polls an unfinished run until it is done; returns `reloadModel` for the case page's hook. */
export function followModel({ api, viewer, grid, caseData, canSeeModel, showMargin, setStatus }) {
  const expect = (dtype) => ({ dtype, shape: grid.shape });
  if (canSeeModel && caseData.model && !FINISHED_RUNS.has(String(caseData.model.run_status).toLowerCase())) pollModel();
  // The case page calls this when it sees the run finish, so the overlay need not wait for a poll.
  const reloadModel = async () => {
    if (!canSeeModel) return;
    const fresh = await api.getCase();
    const fv = fresh.volumes || {};
    if (fv.model_mask) viewer.setVolume("model", (await api.loadVolume(fv.model_mask, { expect: expect("uint8") })).data);
    if (fv.uncertainty) viewer.setVolume("uncertainty", (await api.loadVolume(fv.uncertainty, { expect: expect("float32") })).data);
    caseData.margin = fresh.margin;
    viewer.setMargin(fresh.margin);
    showMargin(fresh.margin, fresh.model);
  };

  async function pollModel() {
    for (;;) {
      await new Promise((r) => setTimeout(r, 5000));
      let fresh;
      try {
        fresh = await api.getCase();
      } catch {
        continue;
      }
      const done = !fresh.model || FINISHED_RUNS.has(String(fresh.model.run_status).toLowerCase());
      showMargin(fresh.margin, fresh.model);
      if (!done) continue;
      const fv = fresh.volumes || {};
      if (fv.model_mask) api.loadVolume(fv.model_mask, { expect: expect("uint8") }).then((v) => viewer.setVolume("model", v.data)).catch(() => {});
      if (fv.uncertainty) api.loadVolume(fv.uncertainty, { expect: expect("float32") }).then((v) => viewer.setVolume("uncertainty", v.data)).catch(() => {});
      viewer.setMargin(fresh.margin);
      setStatus(`Model ${fresh.model?.run_status ?? "finished"}.`);
      return;
    }
  }
  return reloadModel;
}
