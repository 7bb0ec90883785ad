// Ground-truth page: "Add a section" appends a blank slice + status row (the CSP allows no inline script).
// Without script the page still offers blank rows; the button only appears when it works.
const rows = document.querySelector("[data-section-rows]");
const template = document.querySelector("template[data-section-template]");
const add = document.querySelector("button[data-add-section]");
if (rows && template && add) {
  add.hidden = false;
  add.addEventListener("click", () => {
    rows.append(template.content.cloneNode(true));
    rows.lastElementChild.querySelector("input[name=section_slice]").focus();
  });
}
