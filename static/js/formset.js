// "Add another" for a formset (a claim's citations). Loaded as a file: the CSP forbids inline
// scripts. The page renders the formset's empty form in <template id="PREFIX-empty-form">, a
// place for new rows, <div data-formset-rows="PREFIX">, and a hidden button,
// <button data-formset-add="PREFIX" data-formset-max="N">. Each click copies the empty form
// with the next free index in place of __prefix__ and counts it in the management form's
// TOTAL_FORMS, up to the most the server accepts in one save. Without this script the button
// stays hidden and the blank rows the server renders are the way to add citations.
document.addEventListener("DOMContentLoaded", () => {
  const NUMBERED_ATTRIBUTES = ["id", "name", "for", "aria-describedby", "aria-labelledby"];

  document.querySelectorAll("button[data-formset-add]").forEach((button) => {
    const prefix = button.dataset.formsetAdd;
    const template = document.getElementById(`${prefix}-empty-form`);
    const rows = document.querySelector(`[data-formset-rows="${prefix}"]`);
    const total = document.getElementById(`id_${prefix}-TOTAL_FORMS`);
    const most = Number.parseInt(button.dataset.formsetMax, 10);
    if (!template || !rows || !total || Number.isNaN(most)) return;

    const count = () => Number.parseInt(total.value, 10) || 0;
    const refresh = () => {
      button.disabled = count() >= most;
    };

    button.addEventListener("click", () => {
      const index = count();
      if (index >= most) return;
      const row = template.content.cloneNode(true);
      // Only the attributes that carry the form's index: a source named "__prefix__" in a
      // choice's text stays as it is.
      row.querySelectorAll("*").forEach((element) => {
        NUMBERED_ATTRIBUTES.forEach((attribute) => {
          const value = element.getAttribute(attribute);
          if (value && value.includes("__prefix__")) {
            element.setAttribute(attribute, value.replaceAll("__prefix__", String(index)));
          }
        });
      });
      const added = row.firstElementChild;
      rows.append(row);
      total.value = String(index + 1);
      refresh();
      const first = added && added.querySelector("select, textarea, input:not([type=hidden])");
      if (first) first.focus();
    });

    button.hidden = false;
    refresh();
  });
});
