// /docs: the API reference, Swagger UI over /openapi.json. A classic script (Swagger UI's bundle
// defines a global), loaded from the hub's own static files under the strict CSP: no CDN.
/* global SwaggerUIBundle */
window.addEventListener("DOMContentLoaded", () => {
  document.getElementById("fallback")?.remove();
  SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    // Requests from "Try it out" go to this hub, with the token pasted into "Authorize".
    persistAuthorization: false,
  });
});
