// The OGC API's pages: the language switch, and a small map of the features the page shows.
// Features come from the page's JSON block and are drawn as vectors; no text from them is drawn.
(() => {
  const root = document.documentElement;
  const button = document.getElementById("lang");
  const show = (lang) => {
    root.dataset.lang = lang;
    root.lang = lang === "zh" ? "zh-CN" : "en";
    button.textContent = lang === "zh" ? "EN" : "中文";
  };
  show(localStorage.getItem("siteselect.lang") || "zh");
  button.addEventListener("click", () => {
    const next = root.dataset.lang === "zh" ? "en" : "zh";
    localStorage.setItem("siteselect.lang", next);
    show(next);
  });

  window.siteselectOgc = { ready: false };
  const block = document.getElementById("ogc-features");
  if (!block || typeof L === "undefined") {
    window.siteselectOgc.ready = true;
    return;
  }
  const data = JSON.parse(block.textContent);
  const map = L.map("map", { preferCanvas: true });
  const layer = L.geoJSON(data, {
    style: { color: "#1f4e79", weight: 2, fillOpacity: 0.2 },
    pointToLayer: (_feature, latlng) => L.circleMarker(latlng, { radius: 5, color: "#c0392b" }),
  }).addTo(map);
  const bounds = layer.getBounds();
  if (bounds.isValid()) {
    map.fitBounds(bounds, { maxZoom: 17, padding: [16, 16] });
  } else {
    map.setView([36.1, 120.47], 11);
  }
  window.siteselectOgc = { ready: true, map, drawn: layer.getLayers().length };
})();
