// Casedesk's own scripts. Loaded as a file (the CSP forbids inline scripts).
document.addEventListener("DOMContentLoaded", () => {
  // Forms that change something irreversible ask first: <form data-confirm="…">.
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
});
