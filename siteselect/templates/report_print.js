// The print button, and the map laid out for paper before printing: Leaflet is told the size the
// map has on paper (on a phone it is wider than on screen), and back after.
(() => {
  const maps = () => [...document.querySelectorAll(".folium-map")].map((el) => window[el.id]).filter(Boolean);
  const paper = (on) => {
    document.documentElement.classList.toggle("paper", on);
    maps().forEach((map) => map.invalidateSize(false));
  };
  window.addEventListener("beforeprint", () => paper(true));
  window.addEventListener("afterprint", () => paper(false));
  document.getElementById("print").addEventListener("click", () => {
    paper(true);
    window.print();
  });
})();
