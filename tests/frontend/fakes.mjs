/** Minimal stand-ins for canvases so DOM-free parts of the viewer run under node. */

export function fakeContext() {
  const calls = [];
  const ctx = new Proxy(
    {
      calls,
      canvas: { width: 300, height: 200 },
      createImageData: (w, h) => ({ width: w, height: h, data: new Uint8ClampedArray(w * h * 4) }),
      putImageData: () => calls.push("putImageData"),
      drawImage: (...a) => calls.push(["drawImage", ...a.slice(1)]),
      measureText: (t) => ({ width: t.length * 6 }),
      getTransform: () => ({ a: 1 }),
    },
    {
      get(target, prop) {
        if (prop in target) return target[prop];
        return () => calls.push(String(prop));
      },
      set(target, prop, value) {
        target[prop] = value;
        return true;
      },
    },
  );
  return ctx;
}

export function fakeCanvas() {
  const ctx = fakeContext();
  const canvas = { width: 300, height: 200, getContext: () => ctx, ctx };
  ctx.canvas = canvas;
  return canvas;
}
