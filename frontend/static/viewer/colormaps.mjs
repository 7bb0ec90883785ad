/**
 * Colour maps for the PET and uncertainty overlays, and RGBA packing helpers.
 *
 * A colour map is a 256-entry lookup table stored as a Uint8Array of 768 bytes
 * (r, g, b per entry). `packLut` turns one into a Uint32Array of pixels in the
 * byte order ImageData uses, so a renderer writes a whole pixel per store.
 * Pure module: no DOM.
 */

/** True when the platform stores multi-byte integers little-endian (all browsers in practice). */
export const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([0x0a0b0c0d]).buffer)[0] === 0x0d;

/** Pack r, g, b, a (0..255) into one 32-bit pixel as laid out in ImageData's buffer. */
export function packColor(r, g, b, a = 255) {
  return LITTLE_ENDIAN
    ? ((a << 24) | (b << 16) | (g << 8) | r) >>> 0
    : ((r << 24) | (g << 16) | (b << 8) | a) >>> 0;
}

/** Inverse of packColor: [r, g, b, a]. */
export function unpackColor(pixel) {
  return LITTLE_ENDIAN
    ? [pixel & 255, (pixel >>> 8) & 255, (pixel >>> 16) & 255, pixel >>> 24]
    : [pixel >>> 24, (pixel >>> 16) & 255, (pixel >>> 8) & 255, pixel & 255];
}

const clamp01 = (x) => (x < 0 ? 0 : x > 1 ? 1 : x);

/** The classic "hot" map (black - red - yellow - white), same formula as matplotlib's. */
export function hot() {
  const lut = new Uint8Array(768);
  for (let n = 0; n < 256; n++) {
    const x = n / 255;
    lut[3 * n] = Math.round(255 * clamp01((x * 8) / 3));
    lut[3 * n + 1] = Math.round(255 * clamp01((x * 8) / 3 - 1));
    lut[3 * n + 2] = Math.round(255 * clamp01(x * 4 - 3));
  }
  return lut;
}

// matplotlib's inferno, sampled at 256 points and rounded to 8 bits.
const INFERNO_HEX =
  "00000401000501010601010802010a02020c02020e03021004031204031405041706041907051b08051d09061f0a0722" +
  "0b07240c08260d08290e092b10092d110a30120a32140b34150b37160b39180c3c190c3e1b0c411c0c431e0c451f0c48" +
  "210c4a230c4c240c4f260c51280b53290b552b0b572d0b592f0a5b310a5c320a5e340a5f3609613809623909633b0964" +
  "3d09653e0966400a67420a68440a68450a69470b6a490b6a4a0c6b4c0c6b4d0d6c4f0d6c510e6c520e6d540f6d550f6d" +
  "57106e59106e5a116e5c126e5d126e5f136e61136e62146e64156e65156e67166e69166e6a176e6c186e6d186e6f196e" +
  "71196e721a6e741a6e751b6e771c6d781c6d7a1d6d7c1d6d7d1e6d7f1e6c801f6c82206c84206b85216b87216b88226a" +
  "8a226a8c23698d23698f24699025689225689326679526679727669827669a28659b29649d29649f2a63a02a63a22b62" +
  "a32c61a52c60a62d60a82e5fa92e5eab2f5ead305dae305cb0315bb1325ab3325ab43359b63458b73557b93556ba3655" +
  "bc3754bd3853bf3952c03a51c13a50c33b4fc43c4ec63d4dc73e4cc83f4bca404acb4149cc4248ce4347cf4446d04545" +
  "d24644d34743d44842d54a41d74b3fd84c3ed94d3dda4e3cdb503bdd513ade5238df5337e05536e15635e25734e35933" +
  "e45a31e55c30e65d2fe75e2ee8602de9612bea632aeb6429eb6628ec6726ed6925ee6a24ef6c23ef6e21f06f20f1711f" +
  "f1731df2741cf3761bf37819f47918f57b17f57d15f67e14f68013f78212f78410f8850ff8870ef8890cf98b0bf98c0a" +
  "f98e09fa9008fa9207fa9407fb9606fb9706fb9906fb9b06fb9d07fc9f07fca108fca309fca50afca60cfca80dfcaa0f" +
  "fcac11fcae12fcb014fcb216fcb418fbb61afbb81dfbba1ffbbc21fbbe23fac026fac228fac42afac62df9c72ff9c932" +
  "f9cb35f8cd37f8cf3af7d13df7d340f6d543f6d746f5d949f5db4cf4dd4ff4df53f4e156f3e35af3e55df2e661f2e865" +
  "f2ea69f1ec6df1ed71f1ef75f1f179f2f27df2f482f3f586f3f68af4f88ef5f992f6fa96f8fb9af9fc9dfafda1fcffa4";

/** Perceptually uniform "inferno" (matplotlib), black - purple - orange - pale yellow. */
export function inferno() {
  const lut = new Uint8Array(768);
  for (let n = 0; n < 768; n++) lut[n] = parseInt(INFERNO_HEX.substr(2 * n, 2), 16);
  return lut;
}

/** Plain grey ramp. */
export function grey() {
  const lut = new Uint8Array(768);
  for (let n = 0; n < 256; n++) lut[3 * n] = lut[3 * n + 1] = lut[3 * n + 2] = n;
  return lut;
}

const MAPS = { hot, inferno, grey };
const cache = new Map();

/** Names accepted by getColormap. */
export const COLORMAP_NAMES = Object.freeze(Object.keys(MAPS));

/** The 768-byte LUT of a named map (cached; do not mutate). */
export function getColormap(name) {
  if (!MAPS[name]) throw new Error(`unknown colour map: ${name}`);
  if (!cache.has(name)) cache.set(name, MAPS[name]());
  return cache.get(name);
}

/** 256 packed opaque (or constant-alpha) pixels from a 768-byte LUT. */
export function packLut(lut, alpha = 255) {
  const out = new Uint32Array(256);
  for (let n = 0; n < 256; n++) out[n] = packColor(lut[3 * n], lut[3 * n + 1], lut[3 * n + 2], alpha);
  return out;
}

/** "#rrggbb" (or "#rgb") to [r, g, b]. */
export function parseHexColor(hex) {
  let s = String(hex).trim().replace(/^#/, "");
  if (s.length === 3) s = s.split("").map((ch) => ch + ch).join("");
  if (!/^[0-9a-fA-F]{6}$/.test(s)) throw new Error(`not a colour: ${hex}`);
  return [parseInt(s.slice(0, 2), 16), parseInt(s.slice(2, 4), 16), parseInt(s.slice(4, 6), 16)];
}

/** CSS colour string of LUT entry `index`. */
export function lutCss(lut, index) {
  const n = Math.max(0, Math.min(255, Math.round(index)));
  return `rgb(${lut[3 * n]}, ${lut[3 * n + 1]}, ${lut[3 * n + 2]})`;
}
