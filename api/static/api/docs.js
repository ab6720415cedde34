// Starts the vendored Swagger UI on the API's docs page (a file: the CSP forbids inline
// scripts). The page gives the schema's address and the CSRF token in data- attributes:
// "Try it out" uses the signed-in session, whose writes need the token.
(function () {
  "use strict";
  const root = document.getElementById("swagger-ui");
  if (!root || typeof SwaggerUIBundle === "undefined") return;
  const csrfToken = root.dataset.csrfToken;
  SwaggerUIBundle({
    url: root.dataset.schemaUrl,
    domNode: root,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    deepLinking: true,
    persistAuthorization: false,
    tryItOutEnabled: false,
    requestInterceptor: (request) => {
      if (request.method && request.method !== "GET" && csrfToken) {
        request.headers["X-CSRFToken"] = csrfToken;
      }
      return request;
    },
  });
})();
