// The API reference at /docs: Swagger UI (packaged, no CDN) over /api/v1/openapi.json.
// "Authorize" takes a bearer token; "Try it out" then calls this server.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#reference",
    deepLinking: true,
    validatorUrl: null, // the default validator is a remote service
    tryItOutEnabled: false,
    persistAuthorization: false,
    presets: [SwaggerUIBundle.presets.apis],
  });
});
