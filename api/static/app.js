// The web map: entrepreneurs find premises, clerks check one. Plain scripts over the service's own
// API; Leaflet is served by the service, so the page works on a closed intranet.
"use strict";

const CONFIG = JSON.parse(document.getElementById("config").textContent);
// Shared with the reports, from the service: one copy, in siteselect/drawing.py.
const VERDICT_COLOURS = CONFIG.verdictColours;
const BASE_STYLES = CONFIG.baseStyles;

const TEXT = {
  zh: {
    title: "崂山区智能选址", modeFind: "找地址", modeCheck: "登记核查", industry: "行业",
    industryHint: "奶茶、网吧、6210…", areaMin: "面积不小于", areaMax: "面积不大于", maxRent: "租金上限",
    streets: "街道", surface: "适宜性图层", search: "查找房源", address: "地址", floor: "楼层",
    checkButton: "核查", report: "生成报告", openReport: "打开报告", printReport: "打印报告",
    searching: "查找中…", checking: "核查中…", found: (n, c) => `共 ${c} 处候选，显示前 ${n} 处`,
    none: "没有符合条件的房源", pickIndustry: "请先选择行业", unknownIndustry: "找不到这个行业",
    openPoints: "需核查", reasons: "理由", noReasons: "未发现禁设情形", criteria: "评分",
    stale: "超过规定天数未确认", score: "得分", proof: "住所证明", building: "所在建筑",
    certificate: "门牌号证明", prefiled: "园区预备案", accepted: "竣工验收备案", notAccepted: "未见竣工验收备案",
    verdicts: CONFIG.verdicts.zh,
    making: "生成报告中…", surfaceOn: "适宜性：深绿最适宜", missing: "无数据",
    chooseIndustry: "这个说法对应多个行业，请选择一个：",
    article: "条文", notHeld: "条文原文未收录，请查阅原文", legalSummary: "本行业选址法律须知",
  },
  en: {
    title: "Laoshan site selection", modeFind: "Find premises", modeCheck: "Check premises", industry: "Industry",
    industryHint: "milk tea, internet café, 6210…", areaMin: "Area at least", areaMax: "Area at most",
    maxRent: "Rent at most", streets: "Streets", surface: "Suitability layer", search: "Search",
    address: "Address", floor: "Floor", checkButton: "Check", report: "Make report", openReport: "Open report",
    printReport: "Print report", searching: "Searching…", checking: "Checking…",
    found: (n, c) => `${c} candidates, showing the first ${n}`, none: "No premises match",
    pickIndustry: "Choose an industry first", unknownIndustry: "No such industry", openPoints: "To review",
    reasons: "Reasons", noReasons: "No restriction found", criteria: "Scores", stale: "not confirmed recently",
    score: "Score", proof: "Address proof", building: "Building", certificate: "House-number certificate",
    prefiled: "Pre-filed by the park", accepted: "Completion acceptance", notAccepted: "No completion acceptance on file",
    verdicts: CONFIG.verdicts.en,
    making: "Making the report…", surfaceOn: "Suitability: dark green is best", missing: "missing",
    chooseIndustry: "These words fit several industries; choose one:",
    article: "Article", notHeld: "The text is not held here; read the original",
    legalSummary: "What the law says for this industry",
  },
};

const $ = (id) => document.getElementById(id);
// Leaflet's tooltips and popups take HTML: what comes from data goes in as a text node, never as markup.
const text = (content) => Object.assign(document.createElement("span"), { textContent: content });
const state = {
  lang: localStorage.getItem("siteselect.lang") || "zh", results: [], selected: null, industry: null, redraw: null, relist: null,
};
const t = (key) => TEXT[state.lang][key];

// ---- coordinates: draw in GCJ-02 when the tiles beneath are in it ---------------------------------

function gcj02(lon, lat) {
  const a = 6378245.0, ee = 0.00669342162296594323, x = lon - 105.0, y = lat - 35.0;
  let dLat = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x))
    + (20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2 / 3
    + (20 * Math.sin(y * Math.PI) + 40 * Math.sin(y / 3 * Math.PI)) * 2 / 3
    + (160 * Math.sin(y / 12 * Math.PI) + 320 * Math.sin(y * Math.PI / 30)) * 2 / 3;
  let dLon = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x))
    + (20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2 / 3
    + (20 * Math.sin(x * Math.PI) + 40 * Math.sin(x / 3 * Math.PI)) * 2 / 3
    + (150 * Math.sin(x / 12 * Math.PI) + 300 * Math.sin(x / 30 * Math.PI)) * 2 / 3;
  const rad = lat / 180 * Math.PI, magic = 1 - ee * Math.sin(rad) ** 2, sq = Math.sqrt(magic);
  dLat = dLat * 180 / ((a * (1 - ee)) / (magic * sq) * Math.PI);
  dLon = dLon * 180 / (a / sq * Math.cos(rad) * Math.PI);
  return [lon + dLon, lat + dLat];
}
const drawn = CONFIG.gcj02 ? gcj02 : (lon, lat) => [lon, lat];
const latlng = (lon, lat) => { const [x, y] = drawn(lon, lat); return [y, x]; };
const shiftGeoJSON = (geojson) => !CONFIG.gcj02 ? geojson : JSON.parse(JSON.stringify(geojson, (k, v) =>
  Array.isArray(v) && v.length === 2 && typeof v[0] === "number" ? drawn(v[0], v[1]) : v));

// ---- the map -------------------------------------------------------------------------------------

const map = L.map("map", { preferCanvas: true, zoomControl: true }).fitBounds(CONFIG.bounds);
L.control.scale({ imperial: false }).addTo(map);
if (CONFIG.tiles) L.tileLayer(CONFIG.tiles, { attribution: CONFIG.attribution, maxZoom: 19 }).addTo(map);
const base = L.geoJSON(null, { style: (f) => BASE_STYLES[f.properties.layer], interactive: false }).addTo(map);
const markers = L.layerGroup().addTo(map);
let surface = null;

const buildings = L.geoJSON(null, { style: BASE_STYLES.buildings, interactive: false }).addTo(map);

window.siteselect = { map, base, buildings, markers, state, ready: false }; // for the console and the tests

fetch("/basemap").then((r) => r.json()).then((g) => {
  base.addData(g); // already in the base map's datum: the service shifted it
  window.siteselect.ready = true;
});

// Buildings come by view once zoomed in: a district has too many to send at once, and they only
// read at street scale.
const BUILDINGS_MIN_ZOOM = 15;
let buildingsAsked = 0;
// One step back from the drawn datum to WGS-84: metres off at most, and the view is padded anyway.
const undrawn = (lon, lat) => { const [x, y] = drawn(lon, lat); return [2 * lon - x, 2 * lat - y]; };

async function showBuildings() {
  const asked = ++buildingsAsked;
  if (map.getZoom() < BUILDINGS_MIN_ZOOM) {
    buildings.clearLayers();
    return;
  }
  const view = map.getBounds().pad(0.1);
  const [w, s] = undrawn(view.getWest(), view.getSouth());
  const [e, n] = undrawn(view.getEast(), view.getNorth());
  const g = await api(`/basemap/buildings?bbox=${[w, s, e, n].map((v) => v.toFixed(6)).join(",")}`);
  if (asked !== buildingsAsked) return; // the view moved on while these were on their way
  buildings.clearLayers();
  buildings.addData(g);
}
map.on("moveend", () => showBuildings().catch((e) => status(e.message, true)));

function marker(lon, lat, verdict, radius) {
  return L.circleMarker(latlng(lon, lat), {
    radius, color: "#000", weight: 1.5, fillColor: VERDICT_COLOURS[verdict], fillOpacity: 0.95,
  });
}

// ---- talking to the service ----------------------------------------------------------------------

async function api(path, body) {
  const response = await fetch(path, body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const data = await response.json();
  if (!response.ok) {
    const detail = Array.isArray(data.detail) ? data.detail.map((d) => `${d.loc.slice(1).join(".")}: ${d.msg}`).join("; ") : data.detail;
    throw Object.assign(new Error(detail || response.statusText), { candidates: data.candidates });
  }
  return data;
}

function status(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

// The service turns words into one class, or answers with the classes they fit for the user to choose.
async function industryCode() {
  const text = $("industry").value.trim();
  if (!text) throw new Error(t("pickIndustry"));
  const code = text.match(/^\d{4}\b/);
  if (code) return code[0];
  const found = await api(`/industries/resolve?q=${encodeURIComponent(text)}`).catch((e) => {
    throw e.candidates ? e : new Error(t("unknownIndustry"));
  });
  $("industry").value = `${found.code} ${found.name}`;
  return found.code;
}

function showIndustryChoices(candidates, form) {
  const choices = $("industry-choices");
  choices.replaceChildren(Object.assign(document.createElement("p"), { textContent: t("chooseIndustry") }));
  for (const c of candidates) {
    const button = Object.assign(document.createElement("button"), { type: "button", textContent: `${c.code} ${c.name}` });
    button.dataset.code = c.code;
    button.addEventListener("click", () => {
      $("industry").value = `${c.code} ${c.name}`;
      choices.hidden = true;
      $(form).requestSubmit();
    });
    choices.append(button);
  }
  choices.hidden = false;
}

let suggestTimer = null;
$("industry").addEventListener("input", () => {
  clearTimeout(suggestTimer);
  const q = $("industry").value.trim();
  if (!q || /^\d{4}\s/.test(q)) return;
  suggestTimer = setTimeout(async () => {
    try {
      const hits = await api(`/industries?q=${encodeURIComponent(q)}&limit=8`);
      $("industry-options").replaceChildren(...hits.map((h) => new Option(`${h.code} ${h.name}`)));
    } catch (e) { /* a half-typed word finds nothing yet */ }
  }, 200);
});

// ---- entrepreneurs: find premises ----------------------------------------------------------------

function number(id) {
  const value = $(id).value;
  return value === "" ? null : Number(value);
}

// Both forms start alike: say what is happening, find the industry, then do their own part.
function onSubmit(form, busy, run) {
  $(form).addEventListener("submit", async (event) => {
    event.preventDefault();
    $("industry-choices").hidden = true;
    try {
      status(t(busy));
      state.industry = await industryCode();
      await run(state.industry);
    } catch (e) {
      if (e.candidates) { status(""); showIndustryChoices(e.candidates, form); } else status(e.message, true);
    }
  });
}

onSubmit("find", "searching", async (code) => {
  const streets = [...document.querySelectorAll("#streets input:checked")].map((i) => i.value);
  const wanted = { area_min: number("area-min"), area_max: number("area-max"), max_rent: number("max-rent"), streets };
  showResults(await api("/match", { industry: code, wanted, limit: 20 }));
  if ($("surface").checked) await showSurface();
});

function showResults(result) {
  state.relist = () => showResults(result);
  state.redraw = state.relist;
  state.results = result.results;
  markers.clearLayers();
  $("detail").hidden = true;
  const list = $("results");
  list.replaceChildren();
  status(result.results.length ? t("found")(result.results.length, result.counts.candidates) : t("none"));
  result.results.forEach((r, i) => {
    const li = document.createElement("li");
    li.dataset.id = r.id;
    li.innerHTML = `<span class="score"></span><span class="badge ${r.verdict}"></span> <span class="addr"></span>
      <div class="muted"></div>`;
    li.querySelector(".score").textContent = r.score ?? "—";
    li.querySelector(".badge").textContent = t("verdicts")[r.verdict];
    li.querySelector(".addr").textContent = r.address;
    li.querySelector(".muted").textContent = [r.street, r.area_m2 && `${r.area_m2} m²`, r.rent && `${r.rent} 元/m²`,
      r.stale && t("stale")].filter(Boolean).join(" · ");
    li.addEventListener("click", () => select(i));
    list.append(li);
    marker(r.lon, r.lat, r.verdict, 7).bindTooltip(text(`${i + 1}. ${r.address}`)).on("click", () => select(i)).addTo(markers);
  });
  // At most street scale: one result alone is a box of no size, and with no tiles no zoom stops it.
  if (result.results.length) map.fitBounds(L.featureGroup(markers.getLayers()).getBounds().pad(0.2), { maxZoom: 17 });
}

function select(i) {
  const r = state.results[i];
  state.selected = r;
  state.redraw = () => { state.relist(); select(i); };
  document.querySelectorAll("#results li").forEach((li, k) => li.classList.toggle("selected", k === i));
  const detail = $("detail");
  detail.hidden = false;
  detail.innerHTML = `<h2></h2><p><span class="badge ${r.verdict}"></span> ${t("score")} <b></b></p>
    <div class="open"></div><h3>${t("criteria")}</h3><ul class="criteria"></ul>`;
  detail.querySelector("h2").textContent = r.address;
  detail.querySelector(".badge").textContent = t("verdicts")[r.verdict];
  detail.querySelector("b").textContent = r.score ?? "—";
  if (r.open_points.length) {
    const ul = document.createElement("ul");
    r.open_points.forEach((p) => { const li = document.createElement("li"); li.textContent = p; ul.append(li); });
    detail.querySelector(".open").append(Object.assign(document.createElement("b"), { textContent: t("openPoints") }), ul);
  }
  for (const [name, c] of Object.entries(r.criteria)) {
    const li = document.createElement("li");
    li.textContent = `${name} ${c.missing ? t("missing") : c.score}: ${state.lang === "zh" ? c.explanation_zh : c.explanation_en}`;
    detail.querySelector(".criteria").append(li);
  }
  reportButton(detail, t("report"), r.kind === "vacancy" ? { vacancy_id: r.id } : { lon: r.lon, lat: r.lat });
  map.setView(latlng(r.lon, r.lat), Math.max(map.getZoom(), 16));
}

// A button that makes the site's report, and the link to it once made.
function reportButton(detail, label, site) {
  const button = Object.assign(document.createElement("button"), { type: "button", className: "make-report", textContent: label });
  const link = Object.assign(document.createElement("a"), { className: "report-link", target: "_blank", hidden: true, textContent: t("openReport") });
  button.addEventListener("click", () => makeReport(state.industry, site, detail));
  detail.append(button, " ", link);
}

async function makeReport(code, site, where) {
  try {
    status(t("making"));
    const made = await api("/reports", { industry: code, sites: [site] });
    const link = where.querySelector(".report-link");
    link.href = made.url;
    link.hidden = false;
    status("");
    return made;
  } catch (e) { status(e.message, true); }
}

async function showSurface() {
  if (surface) { map.removeLayer(surface); surface = null; }
  if (!$("surface").checked || !state.industry) return;
  const cells = await api(`/surface?industry=${state.industry}&res=8`);
  surface = L.geoJSON(shiftGeoJSON(cells), {
    style: (f) => {
      const p = f.properties, value = (p.score ?? 0) * (p.permitted_share ?? 0) / 100;
      return { stroke: false, fillColor: `hsl(${Math.round(120 * value)}, 65%, ${Math.round(60 - 25 * value)}%)`, fillOpacity: 0.45 };
    },
    interactive: false,
  }).addTo(map);
  surface.bringToBack();
  status(t("surfaceOn"));
}
$("surface").addEventListener("change", () => showSurface().catch((e) => status(e.message, true)));

// ---- clerks: check one premises ------------------------------------------------------------------

onSubmit("check", "checking", async (code) => {
  const body = { industry: code, address: $("address").value.trim() || null, floor: number("floor") };
  showCheck(await api("/check", body), body);
});

// The article a finding rests on, to unfold: the law's name, article and revision, then its sentence.
function citation(c) {
  const details = Object.assign(document.createElement("details"), { className: "citation" });
  const quote = c.text
    ? Object.assign(document.createElement("blockquote"), { textContent: c.text })
    : Object.assign(document.createElement("p"), { className: "basis", textContent: t("notHeld") });
  details.append(Object.assign(document.createElement("summary"), { textContent: `${t("article")}: ${c.label}` }), quote);
  return details;
}

function showCheck(result, body) {
  state.redraw = () => showCheck(result, body);
  status("");
  markers.clearLayers();
  $("results").replaceChildren();
  const { lon, lat } = result.location;
  marker(lon, lat, result.verdict, 9).addTo(markers);
  map.setView(latlng(lon, lat), 17);
  const detail = $("detail");
  detail.hidden = false;
  detail.innerHTML = `<h2></h2><p><span class="badge ${result.verdict} verdict"></span></p><h3>${t("reasons")}</h3>
    <ul class="reasons"></ul><h3>${t("proof")}</h3><ul class="proof"></ul>`;
  detail.querySelector("h2").textContent = body.address;
  detail.querySelector(".verdict").textContent = t("verdicts")[result.verdict];
  const reasons = detail.querySelector(".reasons");
  if (!result.reasons.length) reasons.append(Object.assign(document.createElement("li"), { textContent: t("noReasons") }));
  for (const r of result.reasons) {
    const li = document.createElement("li");
    li.append(state.lang === "zh" ? r.message_zh : r.message_en, document.createElement("br"),
      Object.assign(document.createElement("span"), { className: "basis", textContent: `${r.basis} · ${r.department}` }));
    for (const c of r.citations || []) li.append(citation(c));
    reasons.append(li);
  }
  const law = Object.assign(document.createElement("a"), { className: "legal-summary", textContent: t("legalSummary") });
  law.href = `/industries/${encodeURIComponent(result.industry.code)}/rules.html?as_of=${encodeURIComponent(result.as_of)}`;
  law.target = "_blank";
  reasons.after(law);
  const p = result.address_proof, proof = detail.querySelector(".proof");
  const lines = [result.building && `${t("building")}: ${result.building.name}`,
    p.certificate_no && `${t("certificate")}: ${p.certificate_no}`, p.prefiled && t("prefiled"),
    p.building_accepted ? `${t("accepted")}: ${p.acceptance_no}` : t("notAccepted")].filter(Boolean);
  lines.forEach((line) => proof.append(Object.assign(document.createElement("li"), { textContent: line })));
  reportButton(detail, t("printReport"), { address: body.address, floor: body.floor });
}

// ---- modes and language --------------------------------------------------------------------------

document.querySelectorAll("button.mode").forEach((button) => button.addEventListener("click", () => {
  document.querySelectorAll("button.mode").forEach((b) => b.classList.toggle("active", b === button));
  $("find").hidden = button.dataset.mode !== "find";
  $("check").hidden = button.dataset.mode !== "check";
  $("results").replaceChildren();
  $("detail").hidden = true;
  markers.clearLayers();
  state.redraw = null;
  status("");
}));

function applyLanguage() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-ph]").forEach((el) => { el.placeholder = t(el.dataset.i18nPh); });
  $("lang").textContent = state.lang === "zh" ? "EN" : "中文";
  document.title = `siteselect ${t("title")}`;
}
$("lang").addEventListener("click", () => {
  state.lang = state.lang === "zh" ? "en" : "zh";
  localStorage.setItem("siteselect.lang", state.lang);
  applyLanguage();
  if (state.redraw) state.redraw(); // what is shown, in the new language
});

for (const name of CONFIG.streets) {
  const label = document.createElement("label");
  const box = Object.assign(document.createElement("input"), { type: "checkbox", value: name });
  label.append(box, ` ${name}`);
  $("streets").append(label);
}
applyLanguage();
