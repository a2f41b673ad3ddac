// Swagger UI over the API's own OpenAPI document; requests carry the ID token of the page's signed-in staff member.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // The document's server is "/"; behind API Gateway the API lives under its stage (/prod/), as this page does.
  const base = new URL(".", window.location.href).href;
  const root = window.location.origin + "/";
  window.SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: false,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    requestInterceptor: function (request) {
      if (request.url.startsWith(root) && !request.url.startsWith(base)) {
        request.url = base + request.url.slice(root.length);
      }
      try {
        const session = JSON.parse(sessionStorage.getItem("intake.session") || "null");
        if (session && session.idToken && !request.headers.Authorization) {
          request.headers.Authorization = "Bearer " + session.idToken;
        }
      } catch (error) {
        // no session: the request goes without a token
      }
      return request;
    },
  });
});
