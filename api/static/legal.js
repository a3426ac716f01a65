// The legal summary page: Chinese first, an English switch remembered with the web map's.
"use strict";
(() => {
  const root = document.documentElement, button = document.getElementById("lang");
  const show = (lang) => {
    root.lang = lang === "en" ? "en" : "zh-CN";
    button.textContent = lang === "en" ? "中文" : "EN";
    localStorage.setItem("siteselect.lang", lang);
  };
  button.addEventListener("click", () => show(root.lang === "en" ? "zh" : "en"));
  show(localStorage.getItem("siteselect.lang") || "zh");
  window.siteselectLegal = { ready: true };
})();
