// What every signed-in page shares: the session, writes that carry its CSRF token, and the
// language switch. Data is only ever put in the page as text (textContent), never as HTML.
"use strict";

const Account = (() => {
  let csrf = null;
  const lang = () => localStorage.getItem("siteselect.lang") || "zh";

  // The signed-in user (with the session's CSRF token kept for writes), or null.
  async function session() {
    const r = await fetch("/session", { credentials: "same-origin" });
    const body = await r.json();
    csrf = body.user ? body.user.csrf : null;
    return body.user;
  }

  // A call to the service: { body, etag }; throws an Error with the service's detail (and
  // .status) when it refuses. Writes carry the session's CSRF token.
  async function tagged(method, path, body, extra = {}) {
    const headers = { Accept: "application/json", ...extra };
    if (method !== "GET") headers["X-CSRF-Token"] = csrf || "";
    const raw = body instanceof Blob; // a file as it is (a workbook), else JSON
    if (body !== undefined) headers["Content-Type"] = raw ? "application/octet-stream" : "application/json";
    const r = await fetch(path, {
      method, headers, credentials: "same-origin", body: body === undefined || raw ? body : JSON.stringify(body),
    });
    const answer = r.status === 204 ? null : await r.json().catch(() => ({}));
    if (!r.ok) {
      const detail = Array.isArray(answer.detail)
        ? answer.detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ")
        : answer.detail;
      throw Object.assign(new Error(detail || `HTTP ${r.status}`), { status: r.status, body: answer });
    }
    return { body: answer, etag: r.headers.get("ETag") };
  }

  const call = async (method, path, body, extra) => (await tagged(method, path, body, extra)).body;

  // Fill [data-i18n] elements from the page's texts and wire the EN/中文 button.
  function translate(texts, redraw) {
    const apply = () => {
      const words = texts[lang()];
      document.documentElement.lang = lang() === "zh" ? "zh-CN" : "en";
      document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = words[el.dataset.i18n]; });
      document.querySelectorAll("[data-i18n-ph]").forEach((el) => { el.placeholder = words[el.dataset.i18nPh]; });
      document.getElementById("lang").textContent = lang() === "zh" ? "EN" : "中文";
      if (redraw) redraw();
    };
    document.getElementById("lang").addEventListener("click", () => {
      localStorage.setItem("siteselect.lang", lang() === "zh" ? "en" : "zh");
      apply();
    });
    apply();
    return (key) => texts[lang()][key];
  }

  // An element with text children only: el("td", {}, "a name") is safe for any name.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "dataset") Object.assign(node.dataset, v); else node[k] = v;
    });
    children.forEach((c) => node.append(c instanceof Node ? c : document.createTextNode(String(c ?? ""))));
    return node;
  }

  async function signOut() {
    await call("DELETE", "/session");
    window.location.assign("/signin");
  }

  return { session, call, tagged, translate, el, signOut };
})();
