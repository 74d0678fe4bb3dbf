// Starts Swagger UI on /docs. It lives in a file of its own because the page's Content-Security-Policy
// allows no inline script (Swagger UI's stock page starts it inline). The schema's URL is relative to
// the page, so the docs also work behind a path prefix.
window.ui = SwaggerUIBundle({
  url: new URL("openapi.json", document.baseURI).href,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis],
});
