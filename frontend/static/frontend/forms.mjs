// Page behaviours that would otherwise be inline handlers (the CSP allows no inline script):
// <form data-confirm="question"> asks before submitting; <select data-autosubmit> submits its form on change.
for (const form of document.querySelectorAll("form[data-confirm]")) {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}
for (const select of document.querySelectorAll("select[data-autosubmit]")) {
  select.addEventListener("change", () => select.form.submit());
}
