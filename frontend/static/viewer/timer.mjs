/**
 * Time on case: a stopwatch that runs only while the page is visible.
 * Pure module: the page feeds visibility changes in; `now` is injectable for tests.
 */

export class VisibleTimer {
  constructor({ now = () => performance.now(), visible = true } = {}) {
    this.now = now;
    this.accumulatedMs = 0;
    this.since = visible ? now() : null;
  }

  get running() {
    return this.since !== null;
  }

  setVisible(visible) {
    if (visible && this.since === null) this.since = this.now();
    else if (!visible && this.since !== null) {
      this.accumulatedMs += this.now() - this.since;
      this.since = null;
    }
  }

  /** Visible seconds so far. */
  get seconds() {
    return (this.accumulatedMs + (this.since !== null ? this.now() - this.since : 0)) / 1000;
  }

  /** Follow document.visibilityState. */
  bindTo(doc) {
    this.setVisible(doc.visibilityState !== "hidden");
    doc.addEventListener("visibilitychange", () => this.setVisible(doc.visibilityState !== "hidden"));
    return this;
  }
}
