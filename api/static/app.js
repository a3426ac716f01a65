// The web map: entrepreneurs find premises, clerks check one. Plain scripts over the service's own
// API; Leaflet is served by the service, so the page works on a closed intranet.
"use strict";

const CONFIG = JSON.parse(document.getElementById("config").textContent);
// Shared with the reports, from the service: one copy, in siteselect/drawing.py.
const VERDICT_COLOURS = CONFIG.verdictColours;
for (const [verdict, colour] of Object.entries(VERDICT_COLOURS)) document.documentElement.style.setProperty(`--${verdict}`, colour);
const BASE_STYLES = CONFIG.baseStyles;

const TEXT = {
  zh: {
    title: "崂山区智能选址", modeFind: "找地址", modeCheck: "登记核查", industry: "行业", register: "报告登记簿",
    industryHint: "奶茶、网吧、6210…", areaMin: "面积不小于", areaMax: "面积不大于", maxRent: "租金上限",
    floorMin: "楼层不低于", floorMax: "楼层不高于", park: "园区", anyPark: "不限", uses: "建筑用途",
    prefiledOnly: "仅园区预备案房源", showExcluded: "列出被排除的房源及原因",
    streets: "街道", surface: "适宜性图层", search: "查找房源", address: "地址", floor: "楼层",
    filing: "归档信息（选填，印在报告上）", applicationNo: "申请编号", applicant: "申请人", clerk: "经办人",
    checkButton: "核查", pointOnMap: "在地图上点选位置", report: "生成报告", openReport: "打开报告", printReport: "打印报告",
    searching: "查找中…", checking: "核查中…", found: (n, c) => `共 ${c} 处候选，显示前 ${n} 处`,
    excludedCount: (n) => `；${n} 处按规定禁设，已排除`, excludedTitle: (n) => `被排除的房源（${n} 处）及原因`,
    none: "没有符合条件的房源", pickIndustry: "请先选择行业", unknownIndustry: "找不到这个行业",
    openPoints: "需核查", reasons: "理由", noReasons: "未发现禁设情形", criteria: "评分",
    stale: "超过规定天数未确认", score: "得分", proof: "住所证明", building: "所在建筑",
    certificate: "门牌号证明", noCertificate: "未见门牌号证明", prefiled: "园区预备案", accepted: "竣工验收备案",
    notAccepted: "未见竣工验收备案", verdicts: CONFIG.verdicts.zh, basis: "依据", noBasis: "依据：未载明",
    making: "生成报告中…", surfaceOn: "适宜性：深绿最适宜", missing: "无数据",
    chooseIndustry: "这个说法对应多个行业，请选择一个：",
    article: "条文", notHeld: "条文原文未收录，请查阅原文", legalSummary: "本行业选址法律须知",
    matched: "匹配地址", level: "匹配级别", confidence: "可信度", pointed: "地图点选位置",
    notFound: "没有找到这个地址。", didYouMean: "您要找的是不是：", noSuggestion: "附近没有相近的门牌。",
    tryMap: "也可以在地图上点选位置。", nearby: "附近门牌：",
    pickOnMap: "请在地图上点击房源所在位置", outside: "该位置不在本区范围内", badFloor: "楼层填写有误",
    badInput: (f) => `输入有误：${f}`, failed: "服务暂时无法完成请求，请稍后再试",
    compare: "并排对比", compareReport: "对比报告", picked: (n) => `已选 ${n} 处（可选 2–5 处）`, pick: (n) => `选入对比：第 ${n} 处`,
    comparing: "对比中…", comparison: "并排对比", total: "总分", verdict: "结论", area: "面积", rent: "租金",
    close: "关闭", legendVerdicts: "核查结论", legendSurface: "适宜性", legendAmenities: "周边配套",
    low: "低", high: "高", filters: {
      area_min: "面积小于下限", area_max: "面积超过上限", max_rent: "租金超过上限", floor_min: "楼层低于下限",
      floor_max: "楼层高于上限", streets: "不在所选街道", prefiled_only: "未经园区预备案", uses: "建筑用途不符",
      parks: "不在所选园区",
    },
  },
  en: {
    title: "Laoshan site selection", modeFind: "Find premises", modeCheck: "Check premises", industry: "Industry",
    register: "Report register", industryHint: "milk tea, internet café, 6210…", areaMin: "Area at least",
    areaMax: "Area at most", maxRent: "Rent at most", floorMin: "Floor from", floorMax: "Floor up to", park: "Park",
    anyPark: "Any", uses: "Building use", prefiledOnly: "Pre-filed by a park only",
    showExcluded: "List the premises left out, with the reason", streets: "Streets", surface: "Suitability layer",
    search: "Search", address: "Address", floor: "Floor", filing: "For the file (optional, printed on the report)",
    applicationNo: "Application no.", applicant: "Applicant", clerk: "Clerk", checkButton: "Check",
    pointOnMap: "Point on the map", report: "Make report", openReport: "Open report", printReport: "Print report",
    searching: "Searching…", checking: "Checking…", found: (n, c) => `${c} candidates, showing the first ${n}`,
    excludedCount: (n) => `; ${n} may not be registered`, excludedTitle: (n) => `Left out (${n}) and why`,
    none: "No premises match", pickIndustry: "Choose an industry first", unknownIndustry: "No such industry",
    openPoints: "To review", reasons: "Reasons", noReasons: "No restriction found", criteria: "Scores",
    stale: "not confirmed recently", score: "Score", proof: "Address proof", building: "Building",
    certificate: "House-number certificate", noCertificate: "No house-number certificate on file",
    prefiled: "Pre-filed by the park", accepted: "Completion acceptance",
    notAccepted: "No completion acceptance on file", verdicts: CONFIG.verdicts.en, basis: "Basis",
    noBasis: "Basis: not stated", making: "Making the report…", surfaceOn: "Suitability: dark green is best",
    missing: "missing", chooseIndustry: "These words fit several industries; choose one:",
    article: "Article", notHeld: "The text is not held here; read the original",
    legalSummary: "What the law says for this industry", matched: "Matched address", level: "Match level",
    confidence: "Confidence", pointed: "Point chosen on the map", notFound: "This address was not found.",
    didYouMean: "Did you mean:", noSuggestion: "No similar house number nearby.",
    tryMap: "You can also point at the place on the map.", nearby: "House numbers nearby:",
    pickOnMap: "Click the premises on the map", outside: "That place is outside the district",
    badFloor: "The floor is not valid", badInput: (f) => `Please correct: ${f}`,
    failed: "The service could not answer; please try again",
    compare: "Compare", compareReport: "Comparison report", picked: (n) => `${n} chosen (choose 2–5)`,
    pick: (n) => `Compare number ${n}`, comparing: "Comparing…", comparison: "Side by side", total: "Total",
    verdict: "Verdict", area: "Area", rent: "Rent", close: "Close", legendVerdicts: "Verdict",
    legendSurface: "Suitability", legendAmenities: "Amenities", low: "low", high: "high", filters: {
      area_min: "smaller than asked", area_max: "larger than asked", max_rent: "rent above the budget",
      floor_min: "below the lowest floor asked", floor_max: "above the highest floor asked",
      streets: "not in the streets chosen", prefiled_only: "not pre-filed", uses: "building use not chosen",
      parks: "not in the park chosen",
    },
  },
};
const lang = (pair) => pair[state.lang === "zh" ? 0 : 1]; // a [Chinese, English] pair from the service

const $ = (id) => document.getElementById(id);
// Leaflet's tooltips and popups take HTML: what comes from data goes in as a text node, never as markup.
const text = (content) => Object.assign(document.createElement("span"), { textContent: content });
const state = {
  lang: localStorage.getItem("siteselect.lang") || "zh", results: [], selected: null, industry: null, redraw: null, relist: null,
  picked: new Set(), query: null,
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
// One step back from the drawn datum to WGS-84: metres off at most.
const undrawn = (lon, lat) => { const [x, y] = drawn(lon, lat); return [2 * lon - x, 2 * lat - y]; };
const shiftGeoJSON = (geojson) => !CONFIG.gcj02 ? geojson : JSON.parse(JSON.stringify(geojson, (k, v) =>
  Array.isArray(v) && v.length === 2 && typeof v[0] === "number" ? drawn(v[0], v[1]) : v));

// ---- the map -------------------------------------------------------------------------------------

const map = L.map("map", { preferCanvas: true, zoomControl: true }).fitBounds(CONFIG.bounds);
L.control.scale({ imperial: false }).addTo(map);
if (CONFIG.tiles) L.tileLayer(CONFIG.tiles, { attribution: CONFIG.attribution, maxZoom: 19 }).addTo(map);
const base = L.geoJSON(null, { style: (f) => BASE_STYLES[f.properties.layer], interactive: false }).addTo(map);
const roadNames = L.layerGroup();
const amenities = L.layerGroup().addTo(map);
const markers = L.layerGroup().addTo(map);
let surface = null;

// Buildings come from the service's vector tiles, at every zoom: protomaps-leaflet paints them on
// canvas, in a pane above any tiles beneath and below the outlines, roads and markers. The tiles of
// zoom 15 serve every closer view (scaled), so a street is asked for once. Over a base map in GCJ-02
// the service shifts the tiles' buildings to it.
map.createPane("buildings").style.zIndex = 350;
const buildingStyle = BASE_STYLES.buildings;
const buildings = protomapsL.leafletLayer({
  url: `/tiles/buildings/{z}/{x}/{y}.mvt${CONFIG.gcj02 ? "?datum=gcj02" : ""}`, pane: "buildings", maxDataZoom: 15, attribution: "",
  paintRules: [ // as Leaflet draws a polygon of that style: the fill's opacity is not the outline's
    { dataLayer: "buildings", symbolizer: new protomapsL.PolygonSymbolizer({ fill: buildingStyle.fillColor, opacity: buildingStyle.fillOpacity }) },
    { dataLayer: "buildings", symbolizer: new protomapsL.LineSymbolizer({ color: buildingStyle.color, width: buildingStyle.weight, opacity: 1 }) },
  ],
  labelRules: [],
}).addTo(map);

window.siteselect = { map, base, buildings, markers, amenities, roadNames, state, ready: false }; // for the console and the tests

fetch("/basemap").then((r) => r.json()).then((g) => {
  base.addData(g); // already in the base map's datum: the service shifted it
  labelRoads(g);
  window.siteselect.ready = true;
});

// Road names from street scale, each written once where the road passes nearest the middle of the
// view, so that a street view names the roads in it.
const ROAD_NAMES_MIN_ZOOM = 14;
let roads = [];
function labelRoads(geojson) {
  roads = geojson.features.filter((f) => f.properties.layer === "roads" && f.properties.name).map((f) => ({
    name: f.properties.name,
    parts: (f.geometry.type === "MultiLineString" ? f.geometry.coordinates : [f.geometry.coordinates])
      .map((part) => part.map(([x, y]) => L.latLng(y, x))),
  }));
  showRoadNames();
}
function showRoadNames() {
  roadNames.clearLayers();
  if (map.getZoom() < ROAD_NAMES_MIN_ZOOM) { roadNames.remove(); return; }
  const view = map.getBounds(), centre = map.latLngToLayerPoint(map.getCenter());
  for (const road of roads) {
    let best = null;
    for (const part of road.parts) {
      for (let k = 1; k < part.length; k++) {
        const a = map.latLngToLayerPoint(part[k - 1]), b = map.latLngToLayerPoint(part[k]);
        const p = L.LineUtil.closestPointOnSegment(centre, a, b);
        if (!best || p.distanceTo(centre) < best.distanceTo(centre)) best = p;
      }
    }
    const at = best && map.layerPointToLatLng(best);
    if (at && view.contains(at)) {
      L.tooltip({ permanent: true, direction: "center", className: "road-label", interactive: false })
        .setLatLng(at).setContent(text(road.name)).addTo(roadNames);
    }
  }
  roadNames.addTo(map);
}
map.on("moveend", showRoadNames);

// The name and use of the building under the pointer (or tapped, on a phone), from street scale. Names
// come from department files: the tooltip gets them as a text node, never as markup.
const BUILDING_NAMES_MIN_ZOOM = 15;
const buildingTip = L.tooltip({ direction: "top", offset: [0, -8], className: "building-label" });
function nameBuilding(e) {
  const picked = map.getZoom() < BUILDING_NAMES_MIN_ZOOM ? [] : [...buildings.queryTileFeaturesDebug(e.latlng.lng, e.latlng.lat, 0).values()].flat();
  const hit = picked.find((p) => p.layerName === "buildings");
  if (!hit) { map.closeTooltip(buildingTip); return; }
  const { name, use } = hit.feature.props;
  const uses = CONFIG.uses[use];
  buildingTip.setLatLng(e.latlng).setContent(text(uses ? `${name || ""}（${lang(uses)}）` : name || ""));
  if (!map.hasLayer(buildingTip)) map.openTooltip(buildingTip);
}
map.on("mousemove click", nameBuilding); // a tap on a phone is a click
map.on("mouseout zoomstart", () => map.closeTooltip(buildingTip));

// A premises on the map: a plain dot, or a numbered one matching its place in the list.
function marker(lon, lat, verdict, radius) {
  return L.circleMarker(latlng(lon, lat), {
    radius, color: "#000", weight: 1.5, fillColor: VERDICT_COLOURS[verdict], fillOpacity: 0.95,
  });
}
function numbered(lon, lat, verdict, n) {
  const icon = L.divIcon({ className: "num-marker", html: String(n), iconSize: [24, 24] });
  const m = L.marker(latlng(lon, lat), { icon, keyboard: false, riseOnHover: true });
  m.on("add", () => { m.getElement().style.background = VERDICT_COLOURS[verdict]; });
  return m;
}

// ---- legends: verdict colours always, the surface and the amenities while they are shown -----------

const legend = L.control({ position: "bottomleft" });
legend.onAdd = () => L.DomUtil.create("div", "legend");
legend.addTo(map);

function drawLegend() {
  const box = legend.getContainer();
  box.replaceChildren();
  const section = (title) => box.appendChild(Object.assign(document.createElement("b"), { className: "title", textContent: title }));
  const entry = (colour, label) => {
    const div = document.createElement("div");
    const swatch = document.createElement("i");
    swatch.style.background = colour;
    div.append(swatch, label);
    box.append(div);
  };
  section(t("legendVerdicts"));
  for (const [verdict, colour] of Object.entries(VERDICT_COLOURS)) entry(colour, t("verdicts")[verdict]);
  if (surface) {
    section(t("legendSurface"));
    box.append(Object.assign(document.createElement("span"), { className: "ramp" }));
    const ends = Object.assign(document.createElement("div"), { className: "ends" });
    ends.append(text(t("low")), text(t("high")));
    box.append(ends);
  }
  const shown = new Set(amenities.getLayers().map((m) => m.options.category));
  if (shown.size) {
    section(t("legendAmenities"));
    for (const [category, [zh, en, colour]] of Object.entries(CONFIG.categories)) {
      if (shown.has(category)) entry(colour, state.lang === "zh" ? zh : en);
    }
  }
}

// What is within walking distance of a chosen place, coloured by category as in the reports.
const WALK_DEG = { lon: 0.0056, lat: 0.0045 }; // about 500 m at Laoshan's latitude
let amenitiesAsked = 0;
async function showAmenities(lon, lat) {
  const asked = ++amenitiesAsked;
  amenities.clearLayers();
  const box = [lon - WALK_DEG.lon, lat - WALK_DEG.lat, lon + WALK_DEG.lon, lat + WALK_DEG.lat];
  const pois = await api(`/layers/pois/features?bbox=${box.map((v) => v.toFixed(6)).join(",")}&limit=1000`);
  if (asked !== amenitiesAsked) return; // another place was chosen, or the page cleared, meanwhile
  for (const f of pois.features) {
    const entry = CONFIG.categories[f.properties.category];
    if (!entry || f.properties.industry) continue; // businesses are counted in the scores, not drawn
    const [x, y] = f.geometry.coordinates;
    L.circleMarker(latlng(x, y), { radius: 4, weight: 1, color: "#424242", fillColor: entry[2], fillOpacity: 0.9, category: f.properties.category })
      .bindTooltip(text(`${f.properties.name || ""} · ${lang(entry)}`)).addTo(amenities);
  }
  drawLegend();
}

// ---- talking to the service ----------------------------------------------------------------------

async function api(path, body) {
  const response = await fetch(path, body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const fields = Array.isArray(data.detail) ? data.detail.map((d) => d.loc.slice(1).join(".")) : [];
    const detail = Array.isArray(data.detail) ? data.detail.map((d) => `${d.loc.slice(1).join(".")}: ${d.msg}`).join("; ") : data.detail;
    throw Object.assign(new Error(detail || response.statusText), { candidates: data.candidates, fields, status: response.status });
  }
  return data;
}

// What went wrong, in the page's language: the service's own words stay in the tooltip.
function message(e) {
  if (e.local) return e.local;
  if (!e.status || e.status >= 500) return t("failed"); // the network, or the service's own trouble
  const detail = e.message || "";
  if (/lies outside/.test(detail)) return t("outside");
  const field = e.fields?.[0] || detail.split(/[ :[]/)[0];
  if (/^floor/.test(field)) return t("badFloor");
  const label = { industry: t("industry"), address: t("address"), floor: t("floor"), wanted: t("search") }[field.split(".")[0]];
  return t("badInput")(label || field);
}

function status(content, isError = false, detail = "") {
  $("status").textContent = content;
  $("status").title = detail;
  $("status").classList.toggle("error", isError);
}
function fail(e) { status(message(e), true, e.message); }
const localError = (key) => Object.assign(new Error(t(key)), { local: t(key) });

// The service turns words into one class, or answers with the classes they fit for the user to choose.
async function industryCode() {
  const words = $("industry").value.trim();
  if (!words) throw localError("pickIndustry");
  const code = words.match(/^\d{4}\b/);
  if (code) return code[0];
  const found = await api(`/industries/resolve?q=${encodeURIComponent(words)}`).catch((e) => {
    throw e.candidates ? e : localError("unknownIndustry");
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
// The industry field serves both forms: Enter in it submits the one shown.
$("industry").addEventListener("keydown", (event) => {
  if (event.key !== "Enter") return;
  event.preventDefault();
  ($("find").hidden ? $("check") : $("find")).requestSubmit();
});

function number(id) {
  const value = $(id).value;
  return value === "" ? null : Number(value);
}

// Both forms start alike: clear what was shown, say what is happening, find the industry, then do
// their own part.
function onSubmit(form, busy, run) {
  $(form).addEventListener("submit", async (event) => {
    event.preventDefault();
    $("industry-choices").hidden = true;
    clearShown();
    try {
      status(t(busy));
      state.industry = await industryCode();
      await run(state.industry);
    } catch (e) {
      if (e.candidates) { status(""); showIndustryChoices(e.candidates, form); } else fail(e);
    }
  });
}

function clearShown() {
  markers.clearLayers();
  amenitiesAsked++;
  amenities.clearLayers();
  $("results").replaceChildren();
  $("excluded").hidden = true;
  $("detail").hidden = true;
  $("suggestions").hidden = true;
  $("suggestions").replaceChildren();
  $("compare-bar").hidden = true;
  state.results = [];
  state.picked = new Set();
  state.redraw = null;
  drawLegend();
}

function showDetail(build) {
  const detail = $("detail");
  detail.replaceChildren();
  const close = Object.assign(document.createElement("button"), { type: "button", className: "close", textContent: "×" });
  close.setAttribute("aria-label", t("close"));
  close.addEventListener("click", () => { detail.hidden = true; });
  detail.append(close);
  build(detail);
  detail.hidden = false;
  detail.scrollTop = 0;
}

// Centre a place in the part of the map the detail leaves free (on a wide screen it lies over the map).
function focus(lon, lat, zoom) {
  map.setView(latlng(lon, lat), zoom, { animate: false });
  const detail = $("detail");
  if (!detail.hidden && getComputedStyle(detail).position === "absolute") map.panBy([detail.offsetWidth / 2, 0], { animate: false });
}

const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};

// ---- entrepreneurs: find premises ----------------------------------------------------------------

onSubmit("find", "searching", async (code) => {
  const checked = (id) => [...document.querySelectorAll(`#${id} input:checked`)].map((i) => i.value);
  const wanted = {
    area_min: number("area-min"), area_max: number("area-max"), max_rent: number("max-rent"),
    floor_min: number("floor-min"), floor_max: number("floor-max"), streets: checked("streets"), uses: checked("uses"),
    parks: $("park").value ? [$("park").value] : [], prefiled_only: $("prefiled").checked,
  };
  const result = await api("/match", { industry: code, wanted, limit: 20, include_excluded: $("show-excluded").checked });
  // What a report or a comparison of these results is asked with: the same wanted and weights,
  // so it scores them as the list did.
  state.query = { industry: code, wanted, weights: result.weights };
  showResults(result);
  if ($("surface").checked) await showSurface();
});

function showResults(result) {
  state.relist = () => showResults(result);
  state.redraw = state.relist;
  state.results = result.results;
  state.selected = null;
  markers.clearLayers();
  $("detail").hidden = true;
  const list = $("results");
  list.replaceChildren();
  const prohibited = result.excluded.filter((x) => x.verdict === "prohibited").length;
  status(result.results.length
    ? t("found")(result.results.length, result.counts.candidates) + (prohibited ? t("excludedCount")(prohibited) : "")
    : t("none"));
  result.results.forEach((r, i) => {
    const li = document.createElement("li");
    li.dataset.id = r.id;
    const pick = el("input", { type: "checkbox", className: "pick", checked: state.picked.has(i) });
    pick.setAttribute("aria-label", t("pick")(i + 1));
    pick.addEventListener("click", (event) => { event.stopPropagation(); togglePick(i, pick.checked); });
    li.append(el("span", { className: "score", textContent: r.score ?? "—" }), pick,
      el("span", { className: `badge ${r.verdict}`, textContent: t("verdicts")[r.verdict] }), " ",
      el("span", { className: "addr", textContent: r.address }),
      el("div", { className: "muted", textContent: [r.street, r.floor && `${r.floor}${state.lang === "zh" ? "层" : "F"}`,
        r.area_m2 && `${r.area_m2} m²`, r.rent && `${r.rent} 元/m²`, r.stale && t("stale")].filter(Boolean).join(" · ") }));
    li.addEventListener("click", () => select(i));
    list.append(li);
    numbered(r.lon, r.lat, r.verdict, i + 1).bindTooltip(text(`${i + 1}. ${r.address}`)).on("click", () => select(i)).addTo(markers);
  });
  showExcluded(result);
  drawPicked();
  // At most street scale: one result alone is a box of no size, and with no tiles no zoom stops it.
  if (result.results.length) map.fitBounds(L.featureGroup(markers.getLayers()).getBounds().pad(0.2), { maxZoom: 17, animate: false });
}

// The premises left out: those the rules forbid (with the rules) and, when asked, those the
// filters set aside (with the filter and their own value).
function showExcluded(result) {
  const box = $("excluded");
  const listed = result.excluded;
  box.hidden = !listed.length;
  box.querySelector("summary").textContent = t("excludedTitle")(listed.length);
  const ul = box.querySelector("ul");
  ul.replaceChildren();
  for (const x of listed) {
    const why = x.filter
      ? `${t("filters")[x.filter]}${x.value !== null && x.value !== undefined && typeof x.value !== "boolean" ? `（${x.value}）` : ""}`
      : x.messages?.length ? x.messages.map((m) => (state.lang === "zh" ? m.zh : m.en)).join("；") : x.reasons.join("；");
    const li = el("li", {}, el("span", { className: "addr", textContent: x.address || x.id }), " — ");
    if (x.verdict) li.append(el("span", { className: `badge ${x.verdict}`, textContent: t("verdicts")[x.verdict] || x.verdict }), " ");
    li.append(el("span", { className: "why", textContent: why }));
    for (const m of x.messages || []) if (m.basis) li.append(el("div", { className: "basis", textContent: `${t("basis")}: ${m.basis}` }));
    ul.append(li);
  }
}

function select(i) {
  const r = state.results[i];
  state.selected = i;
  state.redraw = () => { state.relist(); select(i); };
  document.querySelectorAll("#results li").forEach((li, k) => li.classList.toggle("selected", k === i));
  markers.getLayers().forEach((m, k) => {
    m.getElement()?.classList.toggle("selected", k === i);
    m.setZIndexOffset(k === i ? 1000 : 0);
  });
  showDetail((detail) => {
    detail.append(el("h2", { textContent: `${i + 1}. ${r.address}` }),
      el("p", {}, el("span", { className: `badge ${r.verdict}`, textContent: t("verdicts")[r.verdict] }), ` ${t("score")} `,
        el("b", { textContent: r.score ?? "—" })));
    if (r.open_points.length) {
      detail.append(el("b", { textContent: t("openPoints") }), el("ul", {}, ...r.open_points.map((p) => el("li", { textContent: p }))));
    }
    detail.append(el("h3", { textContent: t("criteria") }), criteriaList(r.criteria));
    reportButtons(detail, () => ({ ...state.query, sites: [siteOf(r)] }));
  });
  focus(r.lon, r.lat, Math.max(map.getZoom(), 16));
  showAmenities(r.lon, r.lat).catch(fail);
  if (window.matchMedia("(max-width: 600px)").matches) $("mapwrap").scrollIntoView({ block: "start" });
}

// Each criterion by its name in the page's language, its score and why, and what it measures.
function criteriaList(criteria) {
  const ul = el("ul", { className: "criteria" });
  for (const [name, c] of Object.entries(criteria)) {
    const [zh, en, aboutZh, aboutEn] = CONFIG.criteria[name];
    ul.append(el("li", {},
      el("b", { textContent: `${state.lang === "zh" ? zh : en} ${c.missing ? t("missing") : c.score}` }),
      `：${state.lang === "zh" ? c.explanation_zh : c.explanation_en}`,
      el("p", { className: "about", textContent: state.lang === "zh" ? aboutZh : aboutEn })));
  }
  return ul;
}

const siteOf = (r) => (r.kind === "vacancy" ? { vacancy_id: r.id } : { lon: r.lon, lat: r.lat });

// ---- comparing 2-5 of the list ---------------------------------------------------------------------

function togglePick(i, on) {
  if (on) state.picked.add(i); else state.picked.delete(i);
  drawPicked();
}

function drawPicked() {
  const n = state.picked.size;
  $("compare-bar").hidden = !state.results.length;
  $("picked").textContent = t("picked")(n);
  $("compare").disabled = $("compare-report").disabled = n < 2 || n > 5;
}

const pickedSites = () => [...state.picked].sort((a, b) => a - b);

$("compare").addEventListener("click", async () => {
  try {
    status(t("comparing"));
    const picked = pickedSites();
    const result = await api("/compare", { ...state.query, sites: picked.map((i) => siteOf(state.results[i])) });
    showComparison(result, picked);
    status("");
  } catch (e) { fail(e); }
});

$("compare-report").addEventListener("click", () =>
  makeReport({ ...state.query, sites: pickedSites().map((i) => siteOf(state.results[i])) }, { open: true }));

function showComparison(result, picked) {
  state.redraw = () => { state.relist(); showComparison(result, picked); };
  showDetail((detail) => {
    const head = el("tr", {}, el("th", { textContent: "" }), ...picked.map((i) => el("th", { textContent: `${i + 1}` })));
    const row = (label, cells) => el("tr", {}, el("th", { textContent: label }), ...cells.map((c) => el("td", {}, c)));
    const rows = [
      row(t("address"), result.sites.map((s) => s.address || "")),
      row(t("verdict"), result.sites.map((s) => el("span", { className: `badge ${s.verdict}`, textContent: t("verdicts")[s.verdict] }))),
      row(t("total"), result.sites.map((s) => el("b", { textContent: s.score ?? "—" }))),
      ...Object.keys(result.sites[0].criteria).map((name) => row(lang(CONFIG.criteria[name]),
        result.sites.map((s) => (s.criteria[name].missing ? t("missing") : String(s.criteria[name].score))))),
      row(t("floor"), result.sites.map((s) => (s.floor ?? "—").toString())),
      row(t("area"), result.sites.map((s) => (s.area_m2 ? `${s.area_m2} m²` : "—"))),
      row(t("rent"), result.sites.map((s) => (s.rent ? `${s.rent} 元/m²` : "—"))),
    ];
    detail.append(el("h2", { textContent: t("comparison") }),
      el("div", { className: "compare-wrap" }, el("table", { className: "comparison" }, el("thead", {}, head), el("tbody", {}, ...rows))));
    reportButtons(detail, () => ({ ...state.query, sites: picked.map((i) => siteOf(state.results[i])) }));
  });
}

// ---- reports ---------------------------------------------------------------------------------------

// "Make report" makes it and links it; "Print report" makes it, opens it and prints it.
function reportButtons(detail, body) {
  const make = el("button", { type: "button", className: "make-report", textContent: t("report") });
  const print = el("button", { type: "button", className: "print-report", textContent: t("printReport") });
  const link = el("a", { className: "report-link", target: "_blank", hidden: true, textContent: t("openReport") });
  make.addEventListener("click", () => makeReport(body(), { link }));
  print.addEventListener("click", () => makeReport(body(), { open: true }));
  detail.append(el("p", {}, make, " ", print, " ", link));
}

function filing() {
  const values = { application_no: $("application-no").value.trim(), applicant: $("applicant").value.trim(), clerk: $("clerk").value.trim() };
  return Object.values(values).some(Boolean) ? values : null;
}

async function makeReport(body, { link, open }) {
  try {
    status(t("making"));
    const asked = filing() ? { ...body, filing: filing() } : body;
    const made = await api("/reports", asked);
    if (link) { link.href = made.url; link.hidden = false; }
    if (open) {
      const shown = window.open(made.url, "_blank");
      // The report's window is this page's origin: print once it has drawn.
      if (shown) shown.addEventListener("load", () => shown.print(), { once: true });
    }
    status("");
    return made;
  } catch (e) { fail(e); }
}

async function showSurface() {
  if (surface) { map.removeLayer(surface); surface = null; }
  if ($("surface").checked && state.industry) {
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
  drawLegend();
}
$("surface").addEventListener("change", () => showSurface().catch(fail));

// ---- clerks: check one premises ------------------------------------------------------------------

onSubmit("check", "checking", async (code) => {
  const address = $("address").value.trim() || null;
  const body = { industry: code, address, floor: number("floor") };
  try {
    showCheck(await api("/check", body), body);
  } catch (e) {
    if (!address || e.status !== 422 || e.fields.length || !/^address/.test(e.message)) throw e;
    await notFound(address, e);
  }
});

// An address that resolves to nothing: the nearest known house numbers, and the map to point at.
async function notFound(address, error) {
  status(t("notFound"), true, error.message);
  const found = await api(`/addresses/suggest?q=${encodeURIComponent(address)}&limit=6`).catch(() => []);
  offer(found, found.length ? t("didYouMean") : t("noSuggestion"));
}

function offer(found, heading) {
  const box = $("suggestions");
  box.replaceChildren(el("p", { textContent: heading }));
  for (const s of found) {
    const button = el("button", { type: "button", className: "suggestion", textContent: s.address });
    button.addEventListener("click", () => { $("address").value = s.address; $("check").requestSubmit(); });
    box.append(button);
  }
  const point = el("button", { type: "button", className: "secondary point", textContent: t("pointOnMap") });
  point.addEventListener("click", pointOnMap);
  box.append(el("p", { textContent: t("tryMap") }), point);
  box.hidden = false;
}

// "Point on the map": the next click on the map is the premises, checked by its coordinates.
function pointOnMap() {
  document.body.classList.add("picking");
  status(t("pickOnMap"));
  map.once("click", async (event) => {
    document.body.classList.remove("picking");
    const [lon, lat] = undrawn(event.latlng.lng, event.latlng.lat);
    const body = { industry: null, lon: Number(lon.toFixed(6)), lat: Number(lat.toFixed(6)), floor: number("floor") };
    clearShown();
    try {
      status(t("checking"));
      body.industry = state.industry = await industryCode();
      showCheck(await api("/check", body), body);
    } catch (e) {
      if (e.candidates) { status(""); showIndustryChoices(e.candidates, "check"); } else fail(e);
    }
  });
}
$("point-on-map").addEventListener("click", pointOnMap);

// The article a finding rests on, to unfold: the law's name, article and revision, then its sentence.
function citation(c) {
  const quote = c.text
    ? el("blockquote", { textContent: c.text })
    : el("p", { className: "basis", textContent: t("notHeld") });
  return el("details", { className: "citation" }, el("summary", { textContent: `${t("article")}: ${c.label}` }), quote);
}

// A finding's basis: the line, who keeps it, and each article quoted.
function basisOf(r) {
  const parts = [r.basis ? `${t("basis")}: ${r.basis}` : t("noBasis"), r.department].filter(Boolean);
  const out = [el("span", { className: "basis", textContent: parts.join(" · ") })];
  for (const c of r.citations || []) out.push(citation(c));
  return out;
}

function showCheck(result, body) {
  state.redraw = () => showCheck(result, body);
  status("");
  const { lon, lat, match } = result.location;
  marker(lon, lat, result.verdict, 9).addTo(markers);
  showDetail((detail) => {
    detail.append(el("h2", { textContent: body.address || t("pointed") }));
    if (match) {
      detail.append(el("p", { className: "matched" },
        `${t("matched")}: `, el("b", { className: "matched-address", textContent: match.address || "—" }), el("br"),
        `${t("level")}: `, el("span", { className: "level", textContent: lang(CONFIG.levels[match.level] || [match.level, match.level]) }),
        ` · ${t("confidence")}: `, el("span", { className: "confidence", textContent: `${Math.round(match.confidence * 100)}%` })));
    }
    detail.append(el("p", {}, el("span", { className: `badge ${result.verdict} verdict`, textContent: t("verdicts")[result.verdict] })),
      el("h3", { textContent: t("reasons") }));
    const reasons = el("ul", { className: "reasons" });
    if (!result.reasons.length) reasons.append(el("li", { textContent: t("noReasons") }));
    for (const r of result.reasons) {
      reasons.append(el("li", {}, state.lang === "zh" ? r.message_zh : r.message_en, el("br"), ...basisOf(r)));
    }
    const law = el("a", { className: "legal-summary", textContent: t("legalSummary"), target: "_blank" });
    law.href = `/industries/${encodeURIComponent(result.industry.code)}/rules.html?as_of=${encodeURIComponent(result.as_of)}`;
    const p = result.address_proof;
    const lines = [result.building && `${t("building")}: ${result.building.name}`,
      p.certificate_no ? `${t("certificate")}: ${p.certificate_no}` : t("noCertificate"), p.prefiled && t("prefiled"),
      p.building_accepted ? `${t("accepted")}: ${p.acceptance_no}` : t("notAccepted")].filter(Boolean);
    detail.append(reasons, law, el("h3", { textContent: t("proof") }),
      el("ul", { className: "proof" }, ...lines.map((line) => el("li", { textContent: line }))),
      el("div", { className: "proof-basis" }, ...basisOf(p)));
    const site = body.address ? { address: body.address } : { lon: body.lon, lat: body.lat };
    if (body.floor !== null) site.floor = body.floor;
    reportButtons(detail, () => ({ industry: result.industry.code, sites: [site] }));
  });
  focus(lon, lat, 17);
  showAmenities(lon, lat).catch(fail);
  if (match && match.level !== "house_number" && body.address) { // approximate: offer the numbers near it
    api(`/addresses/suggest?q=${encodeURIComponent(body.address)}&limit=6`)
      .then((found) => found.length && offer(found, t("nearby"))).catch(() => {});
  }
}

// ---- modes and language --------------------------------------------------------------------------

document.querySelectorAll("button.mode").forEach((button) => button.addEventListener("click", () => {
  document.querySelectorAll("button.mode").forEach((b) => b.classList.toggle("active", b === button));
  $("find").hidden = button.dataset.mode !== "find";
  $("check").hidden = button.dataset.mode !== "check";
  clearShown();
  status("");
}));

function applyLanguage() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = t(node.dataset.i18n); });
  document.querySelectorAll("[data-i18n-ph]").forEach((node) => { node.placeholder = t(node.dataset.i18nPh); });
  document.querySelectorAll("[data-label]").forEach((node) => { node.textContent = ` ${lang(JSON.parse(node.dataset.label))}`; });
  $("lang").textContent = state.lang === "zh" ? "EN" : "中文";
  $("lang").lang = state.lang === "zh" ? "en" : "zh-CN";
  document.title = `siteselect ${t("title")}`;
  drawLegend();
  if (state.results?.length) drawPicked();
}
$("lang").addEventListener("click", () => {
  state.lang = state.lang === "zh" ? "en" : "zh";
  localStorage.setItem("siteselect.lang", state.lang);
  applyLanguage();
  if (state.redraw) state.redraw(); // what is shown, in the new language
});

function checkbox(fieldset, value, names) {
  const label = document.createElement("label");
  const box = Object.assign(document.createElement("input"), { type: "checkbox", value });
  const name = el("span", { textContent: "" });
  if (names) name.dataset.label = JSON.stringify(names); else name.textContent = ` ${value}`;
  label.append(box, name);
  $(fieldset).append(label);
}
for (const name of CONFIG.streets) checkbox("streets", name, null);
for (const use of ["commercial", "office", "mixed", "industrial", "residential", "public", "other"]) checkbox("uses", use, CONFIG.uses[use]);
for (const park of CONFIG.parks) $("park").append(new Option(park.name, park.id));
applyLanguage();
