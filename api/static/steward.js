// The data steward's page: upload a department's file as it is kept, see how its headers were read,
// its problems by sheet and row, and what the load would change (entries, verdicts, on the map),
// then confirm or cancel. Everything from the file reaches the page as text, never as HTML.
"use strict";

const CONFIG = JSON.parse(document.getElementById("config").textContent);
const TEXT = {
  zh: {
    title: "部门数据管理", map: "地图", token: "访问令牌", signIn: "登录", what: "数据", file: "文件",
    department: "部门", sheet: "工作表", coordsys: "坐标系", minLevel: "地址匹配至少到", try: "试运行",
    summary: "变更", confirm: "确认导入", cancel: "取消", mapping: "表头对应", header: "表头", field: "字段",
    entries: "条目", change: "变化", verdicts: "结论变化", address: "地址", industry: "行业", before: "之前",
    after: "之后", unmatched: "未匹配", problems: "问题", download: "下载问题清单", row: "行", column: "列",
    value: "值", problem: "问题", fix: "建议", signedIn: (n, r) => `已登录：${n}（${r}）`,
    ofDepartment: (d) => `所属部门：${d}（只能导入、试运行和恢复本部门的数据）`, noDepartment: "此数据管理员未设所属部门，请联系管理员",
    notSteward: "此令牌不是数据管理员或管理员的", badToken: "令牌无效或已撤销", pickFile: "请选择文件",
    trying: "试运行中…", loading: "导入中…", found: (n) => `发现 ${n} 个问题，未导入任何数据`,
    planned: (s) => `新增 ${s.added}，删除 ${s.removed}，修改 ${s.changed}；${s.verdicts_changed} 处结论变化`,
    loaded: (v) => `已导入，新版本 ${v}`, cancelled: "已取消，未导入", noChanges: "无",
    changes: { added: "新增", removed: "删除", changed: "修改" },
  },
  en: {
    title: "Department data", map: "Map", token: "Access token", signIn: "Sign in", what: "Data", file: "File",
    department: "Department", sheet: "Sheet", coordsys: "Coordinates", minLevel: "Addresses matched at least to",
    try: "Try", summary: "Changes", confirm: "Confirm load", cancel: "Cancel", mapping: "Headers",
    header: "Header", field: "Field", entries: "Entries", change: "Change", verdicts: "Verdicts that change",
    address: "Address", industry: "Industry", before: "Before", after: "After", unmatched: "Unmatched",
    problems: "Problems", download: "Download the problem list", row: "Row", column: "Column", value: "Value",
    problem: "Problem", fix: "Fix", signedIn: (n, r) => `Signed in: ${n} (${r})`,
    ofDepartment: (d) => `Department: ${d} (you load, try and restore its data only)`,
    noDepartment: "This data steward has no department yet: ask an admin",
    notSteward: "This token is not a data steward's or an admin's", badToken: "The token is unknown or revoked",
    pickFile: "Choose a file", trying: "Trying…", loading: "Loading…",
    found: (n) => `${n} problem(s); nothing was loaded`,
    planned: (s) => `${s.added} added, ${s.removed} removed, ${s.changed} changed; ${s.verdicts_changed} verdict(s) change`,
    loaded: (v) => `Loaded as version ${v}`, cancelled: "Cancelled; nothing was loaded", noChanges: "none",
    changes: { added: "added", removed: "removed", changed: "changed" },
  },
};

const $ = (id) => document.getElementById(id);
const state = { lang: localStorage.getItem("siteselect.lang") || "zh", token: sessionStorage.getItem("siteselect.token") || "", plan: null, body: null };
const t = (key) => TEXT[state.lang][key];

// Leaflet tooltips take HTML: text from the file goes through here first.
const esc = (text) => String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

const map = L.map("map", { preferCanvas: true }).fitBounds(CONFIG.bounds);
L.control.scale({ imperial: false }).addTo(map);
// Changes are drawn in WGS-84: beneath them the service's own outlines and roads, or tiles in WGS-84
// (GCJ-02 tiles would sit some 500 m off, so the page leaves them out).
if (CONFIG.tiles && !CONFIG.gcj02) L.tileLayer(CONFIG.tiles, { attribution: CONFIG.attribution, maxZoom: 19 }).addTo(map);
if (!CONFIG.gcj02) {
  fetch("/basemap").then((r) => r.json()).then((g) => L.geoJSON(g, { style: { color: "#b0bec5", weight: 2, fill: false }, interactive: false }).addTo(map).bringToBack());
}
const changed = L.geoJSON(null, {
  style: (f) => ({ color: CONFIG.changeColours[f.properties.change], weight: 2, fillOpacity: 0.3 }),
  pointToLayer: (f, ll) => L.circleMarker(ll, { radius: 7, color: CONFIG.changeColours[f.properties.change], weight: 2, fillOpacity: 0.6 }),
  onEachFeature: (f, layer) => layer.bindTooltip(`${esc(t("changes")[f.properties.change])} · ${esc(f.id)} · ${esc(f.properties.label)}`),
}).addTo(map);

function status(text, error = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", error);
}

function translate() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  $("lang").textContent = state.lang === "zh" ? "EN" : "中文";
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  $("target").replaceChildren(...CONFIG.targets.map((o) => {
    const option = new Option(o[state.lang], o.value);
    option.selected = o.value === ($("target").value || CONFIG.targets[0].value);
    return option;
  }));
  if (state.plan) showPlan(state.plan);
}

function headers(json = false) {
  const h = { Authorization: `Bearer ${state.token}` };
  return json ? { ...h, "Content-Type": "application/json" } : { ...h, "Content-Type": "application/octet-stream" };
}

async function signIn(event) {
  event?.preventDefault();
  state.token = $("token").value.trim() || state.token;
  if (!state.token) return;
  const response = await fetch("/me", { headers: { Authorization: `Bearer ${state.token}` } });
  if (!response.ok) { status(t("badToken"), true); return; }
  const me = await response.json();
  if (!["steward", "admin"].includes(me.role)) { status(t("notSteward"), true); return; }
  sessionStorage.setItem("siteselect.token", state.token);
  $("who").textContent = t("signedIn")(me.name, me.role);
  // A steward loads its own department's entries: the field shows it and cannot be changed.
  const steward = me.role === "steward";
  $("my-department").hidden = !steward;
  $("my-department").textContent = steward ? (me.department_name ? t("ofDepartment")(me.department_name) : t("noDepartment")) : "";
  if (steward) $("department").value = me.department_name || "";
  $("department").readOnly = steward;
  $("upload").hidden = false;
  status("");
}

function url(dryRun) {
  const [kind, name] = $("target").value.split(":");
  const file = $("file").files[0];
  const params = new URLSearchParams({ filename: file.name, dry_run: String(dryRun) });
  if ($("sheet").value.trim()) params.set("sheet", $("sheet").value.trim());
  if (kind === "load") {
    params.set("coordsys", $("coordsys").value);
    params.set("min_level", $("min-level").value);
    if ($("department").value.trim()) params.set("department", $("department").value.trim());
  }
  if (!dryRun && state.plan && state.plan.based_on !== null) params.set("based_on", state.plan.based_on);
  const [layer, records] = name.split("/");
  return kind === "load" ? `/layers/${layer}/loads?${params}` : `/layers/${layer}/records/${records}?${params}`;
}

function rows(tbody, items, cells) {
  $(tbody).querySelector("tbody").replaceChildren(...items.map((item) => {
    const tr = document.createElement("tr");
    for (const value of cells(item)) {
      const td = document.createElement("td");
      td.textContent = value ?? "";
      tr.append(td);
    }
    return tr;
  }));
}

function clear() {
  state.plan = null;
  $("review").hidden = true;
  $("problems").hidden = true;
  changed.clearLayers();
}

function showProblems(problems) {
  rows("problems", problems, (p) => [p.sheet, p.line ?? p.row, p.header ?? p.field, p.value, p.message, p.fix]);
  $("problems").hidden = false;
  status(t("found")(problems.length), true);
}

function showPlan(plan) {
  $("summary").textContent = t("planned")(plan.summary);
  rows("mapping", Object.entries(plan.mapping), ([h, f]) => [h, f]);
  rows("entries", plan.entries, (e) => [e.id, e.department, t("changes")[e.change] + (e.fields.length ? ` (${e.fields.join(", ")})` : "")]);
  rows("verdicts", plan.verdicts, (v) => [v.address, v.industry, state.lang === "zh" ? v.before_zh : v.before, state.lang === "zh" ? v.after_zh : v.after]);
  rows("unmatched", plan.unmatched, (p) => [p.line, p.header, p.value, p.message]);
  $("review").hidden = false;
}

async function tryLoad(event) {
  event.preventDefault();
  clear();
  const file = $("file").files[0];
  if (!file) { status(t("pickFile"), true); return; }
  status(t("trying"));
  state.body = await file.arrayBuffer();
  const response = await fetch(url(true), { method: "POST", headers: headers(), body: state.body });
  const answer = await response.json();
  if (response.status === 422 && answer.problems) { showProblems(answer.problems); return; }
  if (!response.ok) { status(answer.detail ?? String(response.status), true); return; }
  state.plan = answer;
  showPlan(answer);
  changed.addData(answer.changed);
  if (changed.getLayers().length) map.fitBounds(changed.getBounds(), { maxZoom: 17, padding: [20, 20] });
  status(t("planned")(answer.summary));
}

async function confirmLoad() {
  if (!state.plan) return;
  status(t("loading"));
  const response = await fetch(url(false), { method: "POST", headers: headers(), body: state.body });
  const answer = await response.json();
  if (!response.ok) { status(answer.detail ?? String(response.status), true); return; }
  clear();
  status(t("loaded")(answer.version));
}

async function download() {
  const [kind, name] = $("target").value.split(":");
  if (kind !== "load") return;
  const params = new URL(url(true), location.href).searchParams;
  const response = await fetch(`/layers/${name}/loads/problems?${params}`, { method: "POST", headers: headers(), body: state.body });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = `${$("file").files[0].name.replace(/\.[^.]+$/, "")}-problems.xlsx`;
  link.click();
}

$("lang").addEventListener("click", () => {
  state.lang = state.lang === "zh" ? "en" : "zh";
  localStorage.setItem("siteselect.lang", state.lang);
  translate();
});
$("signin").addEventListener("submit", signIn);
$("upload").addEventListener("submit", tryLoad);
$("confirm").addEventListener("click", confirmLoad);
$("cancel").addEventListener("click", () => { clear(); status(t("cancelled")); });
$("download").addEventListener("click", download);
translate();
if (state.token) signIn();
window.siteselect = { map, changed, state, ready: true };
