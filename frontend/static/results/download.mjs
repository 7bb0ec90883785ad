// Chart downloads on the results dashboard: the drawn SVG as an .svg file or rendered to a .png.
// (The chart's data comes as CSV from the server's export, which is audited.)

import { chartFileName, standaloneSvg } from "./charts.mjs";

function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function svgFile(svg, scale) {
  return standaloneSvg(new XMLSerializer().serializeToString(svg), { scale });
}

export function downloadSvg(svg, { studyId, name }) {
  const { markup } = svgFile(svg, 1);
  save(new Blob([markup], { type: "image/svg+xml" }), chartFileName(studyId, name, "svg"));
}

// PNG at twice the chart's own size, so it stays sharp on slides.
export async function downloadPng(svg, { studyId, name, scale = 2 }) {
  const { markup, width, height } = svgFile(svg, scale);
  const url = URL.createObjectURL(new Blob([markup], { type: "image/svg+xml" }));
  try {
    const image = new Image();
    image.src = url;
    await image.decode();
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(width);
    canvas.height = Math.round(height);
    canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("the PNG could not be made"))), "image/png"));
    save(blob, chartFileName(studyId, name, "png"));
  } finally {
    URL.revokeObjectURL(url);
  }
}
