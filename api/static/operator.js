// A park operator's premises: on the map and in a table, edited in place. Every write sends the
// ETag it was made against; when someone else changed the premises meanwhile the operator sees
// both versions and chooses. Labels come from the service; data goes in as text only.
"use strict";

const CONFIG = JSON.parse(document.getElementById("config").textContent);
const ITEMS = "/ogc/collections/vacancies/items";
const EDITABLE = ["floor", "area_m2", "rent", "use", "status"];
const OPERATOR_TEXT = {
  zh: {
    title: "崂山区智能选址 · 园区房源", signOut: "退出", address: "地址", building: "建筑", floor: "楼层",
    area: "面积 (m²)", area_m2: "面积", rent: "租金 (元/m²·月)", use: "用途", statusCol: "状态", status: "状态",
    prefiled: "预备案", availableFrom: "可入驻", confirmed: "最近确认", actions: "操作", save: "保存",
    stillAvailable: "仍可租", saved: "已保存", confirmedNow: "已确认仍可租", yes: "是", no: "否",
    conflictTitle: "这条房源已被他人修改，请选择保留哪个版本", field: "字段", yours: "您的修改", theirs: "当前版本",
    keepMine: "保留我的修改", takeTheirs: "采用当前版本", staleTitle: "超过确认期限的房源",
    staleNote: (d) => `超过 ${d} 天未确认`, notOperator: "此页面供园区运营方使用", loading: "加载中…",
    count: (n) => `共 ${n} 处房源`, nothing: "未修改", park: "园区", locate: "定位", add: "添加房源",
    placeHint: "输入地址后点“定位”，或在地图上点击房源位置", added: "已添加", noPlace: "请先定位地址或在地图上点击",
    placed: (where) => `位置：${where}`, clicked: "地图上点选的位置",
    inBuilding: (name, floors) => `${name}（共${floors ?? "?"}层）`,
    noBuilding: "此处没有已登记的建筑，请点击建筑轮廓之内",
    badFloor: (floor, name, floors) => (floor === 0 ? `没有第0层（地下层为 -1、-2…）` : `${name}只有${floors}层，没有第${floor}层`),
    download: "下载房源表格", sheetFile: "上传房源表格 (.xlsx)", upload: "上传", chooseFile: "请先选择表格文件",
    uploaded: (d) => `已导入：新增${d.created.length}处，修改${d.changed.length}处，未变${d.unchanged}处`,
    sheetRefused: (n) => `表格有${n}处问题，未导入任何房源：`, row: (p) => `${p.sheet || ""} 第${p.line ?? "?"}行 ${p.header || ""}：${p.value} — ${p.message}`,
    prefileTitle: "预备案", certificateNo: "不动产权证号", owner: "权利人", registeredUse: "登记用途", validUntil: "有效期至",
    fileIt: "提交预备案", cancel: "取消", prefileBtn: "预备案", filed: "已提交预备案，等待登记窗口审核",
    pending: "待审核", returnedAs: (reason) => `已退回：${reason}`, approvedAs: (n, until) => `是 · ${n}（至${until}）`,
    outlookBtn: "适合什么", outlookTitle: "适合经营什么", industry: "行业", verdict: "核查结论", why: "原因", rank: "排名",
    improve: "如何提升", target: "园区目标行业", rankOf: (n, m) => `第${n}名 / 共${m}处`, beyond: (k, m) => `前${k}名之外 / 共${m}处`,
    outlookNote: (rent) => `排名为全区可租房源中的名次；区内租金中位数 ${rent} 元/m²·月`, thinking: "正在核查…",
    excluded: "不予登记，不参与排名",
  },
  en: {
    title: "Laoshan site selection · Park premises", signOut: "Sign out", address: "Address", building: "Building",
    floor: "Floor", area: "Area (m²)", area_m2: "Area", rent: "Rent (yuan/m²·month)", use: "Use", statusCol: "Status",
    status: "Status", prefiled: "Pre-filed", availableFrom: "Available from", confirmed: "Last confirmed",
    actions: "Actions", save: "Save", stillAvailable: "Still available", saved: "Saved",
    confirmedNow: "Confirmed as still available", yes: "yes", no: "no",
    conflictTitle: "Someone else changed these premises meanwhile; choose which version to keep", field: "Field",
    yours: "Yours", theirs: "Now stored", keepMine: "Keep mine", takeTheirs: "Take theirs",
    staleTitle: "Premises not confirmed in time", staleNote: (d) => `not confirmed for over ${d} days`,
    notOperator: "This page is for park operators", loading: "Loading…", count: (n) => `${n} premises`,
    nothing: "Nothing changed", park: "Park", locate: "Locate", add: "Add premises",
    placeHint: "Type the address and press Locate, or click the premises on the map", added: "Added",
    noPlace: "Locate the address or click the map first", placed: (where) => `Placed at: ${where}`,
    clicked: "the point clicked on the map",
    inBuilding: (name, floors) => `${name} (${floors ?? "?"} floors)`,
    noBuilding: "No known building here: click inside a building's outline",
    badFloor: (floor, name, floors) => (floor === 0 ? "There is no floor 0 (basements are -1, -2 …)" : `${name} has ${floors} floors, not floor ${floor}`),
    download: "Download the premises sheet", sheetFile: "Upload the premises sheet (.xlsx)", upload: "Upload",
    chooseFile: "Choose the sheet first",
    uploaded: (d) => `Loaded: ${d.created.length} added, ${d.changed.length} changed, ${d.unchanged} unchanged`,
    sheetRefused: (n) => `${n} problem(s) in the sheet; nothing was loaded:`, row: (p) => `${p.sheet || ""} row ${p.line ?? "?"} ${p.header || ""}: ${p.value} — ${p.message}`,
    prefileTitle: "Pre-filing", certificateNo: "Property certificate no.", owner: "Owner", registeredUse: "Registered use",
    validUntil: "Valid until", fileIt: "File it", cancel: "Cancel", prefileBtn: "Pre-file",
    filed: "Filed; waiting for a registration clerk", pending: "waiting", returnedAs: (reason) => `returned: ${reason}`,
    approvedAs: (n, until) => `yes · ${n} (until ${until})`, outlookBtn: "Good for", outlookTitle: "What it is good for",
    industry: "Industry", verdict: "Verdict", why: "Why", rank: "Rank", improve: "How to rank higher", target: "park target",
    rankOf: (n, m) => `${n} of ${m}`, beyond: (k, m) => `below the first ${k} of ${m}`,
    outlookNote: (rent) => `Rank among the district's available premises; median asking rent ${rent} yuan/m²·month`,
    thinking: "Checking…", excluded: "prohibited: not ranked",
  },
};
const { el, call, tagged } = Account;
const $ = (id) => document.getElementById(id);
const view = { me: null, rows: [], conflict: null, filings: {} };
const T = Account.translate(OPERATOR_TEXT, () => draw());
const zh = () => document.documentElement.lang !== "en";
const label = (group, code) => (CONFIG[group][code] ? CONFIG[group][code][zh() ? 0 : 1] : code ?? "");

function say(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

const map = L.map("operator-map").fitBounds(CONFIG.bounds);
const markers = L.featureGroup().addTo(map);
// The district's outlines and roads beneath, as the web map draws them (no tiles needed).
function drawBase() {
  call("GET", "/basemap").then((base) => L.geoJSON(base, {
    style: (f) => (f.properties.layer === "roads" ? { color: "#bdbdbd", weight: 4 } : { color: "#455a64", weight: 2, fill: false }),
  }).addTo(map).bringToBack());
}

// The buildings of the view once zoomed in to street scale: a click places premises in one of them.
// Drawn below the markers and not clickable, so the click reaches the map.
const buildings = L.geoJSON(null, { interactive: false, style: { color: "#90a4ae", weight: 1, fillOpacity: 0.15 } }).addTo(map);
let buildingsAsked = 0;
async function showBuildings() {
  const asked = ++buildingsAsked;
  if (map.getZoom() < 16) {
    buildings.clearLayers();
    return;
  }
  const b = map.getBounds();
  const box = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(",");
  const found = await call("GET", `/basemap/buildings?bbox=${box}`);
  if (asked !== buildingsAsked) return; // the view moved on meanwhile
  buildings.clearLayers();
  buildings.addData(found);
}

// ---- reading -------------------------------------------------------------------------------------

// One premises with the ETag a write must match, read together.
async function readOne(id) {
  const { body, etag } = await tagged("GET", `${ITEMS}/${encodeURIComponent(id)}`);
  return { id, props: body.properties, lonlat: body.geometry.coordinates, etag };
}

async function load() {
  const all = await call("GET", `${ITEMS}?limit=10000`);
  const mine = all.features.filter((f) => view.me.role === "admin" || view.me.parks.includes(f.properties.park_id));
  view.rows = await Promise.all(mine.map((f) => readOne(f.id)));
  view.rows.sort((a, b) => String(a.props.address).localeCompare(String(b.props.address), "zh"));
  await loadFilings();
  draw();
  say(T("count")(view.rows.length));
}

// The latest filing of each premises (the service answers newest first).
async function loadFilings() {
  view.filings = {};
  (await call("GET", "/filings")).forEach((f) => { view.filings[f.listing_id] ??= f; });
}

const isStale = (row) => !row.props.updated_at
  || Date.now() - new Date(row.props.updated_at).getTime() > CONFIG.stale_after_days * 86400000;

// ---- drawing -------------------------------------------------------------------------------------

function choice(group, value) {
  const select = el("select", {});
  Object.keys(CONFIG[group]).forEach((code) => select.append(el("option", { value: code, selected: code === value, defaultSelected: code === value }, label(group, code))));
  return select;
}

function number(value, step) {
  return el("input", { type: "number", step, value: value ?? "" });
}

function premisesRow(row) {
  const p = row.props;
  const inputs = {
    floor: number(p.floor, "1"), area_m2: number(p.area_m2, "0.1"), rent: number(p.rent, "0.1"),
    use: choice("uses", p.use), status: choice("statuses", p.status),
  };
  const save = el("button", { type: "button", className: "save" }, T("save"));
  save.addEventListener("click", () => write(row, changesOf(row, inputs), "saved"));
  const actions = el("td", {}, save);
  if (p.status === "available") { // confirming it is still free keeps it from ranking lower
    const confirm = el("button", { type: "button", className: "quiet confirm" }, T("stillAvailable"));
    confirm.addEventListener("click", () => write(row, { status: "available" }, "confirmedNow"));
    actions.append(confirm);
  }
  const good = el("button", { type: "button", className: "quiet outlook" }, T("outlookBtn"));
  good.addEventListener("click", () => showOutlook(row));
  actions.append(good);
  const cell = (node) => el("td", {}, node);
  return el("tr", { dataset: { id: row.id } }, cell(p.address), cell(p.building_id ?? ""), cell(inputs.floor),
    cell(inputs.area_m2), cell(inputs.rent), cell(inputs.use), cell(inputs.status),
    prefiledCell(row), cell(p.available_from ?? ""), cell(day(p.updated_at)), actions);
}

// Pre-filed, waiting, returned (with the clerk's reason) or not, and the button to file.
function prefiledCell(row) {
  const f = view.filings[row.id];
  const td = el("td", { className: "prefiled" });
  if (f && f.status === "approved" && row.props.prefiled) td.append(T("approvedAs")(f.number, f.valid_until));
  else if (f && f.status === "pending") td.append(T("pending"));
  else {
    td.append(f && f.status === "returned" ? T("returnedAs")(f.reason) : row.props.prefiled ? T("yes") : T("no"));
    if (!row.props.prefiled || (f && f.status === "returned")) {
      const file = el("button", { type: "button", className: "quiet prefile" }, T("prefileBtn"));
      file.addEventListener("click", () => openPrefile(row));
      td.append(el("br"), file);
    }
  }
  return td;
}

const day = (iso) => (iso ? new Date(iso).toLocaleDateString(document.documentElement.lang) : "");

function popup(row) {
  const p = row.props;
  return el("div", {}, el("strong", {}, p.address), el("br"), `${label("statuses", p.status)} · ${p.area_m2} m²`);
}

function draw() {
  if (!view.me) return;
  $("premises-table").querySelector("tbody").replaceChildren(...view.rows.map(premisesRow));
  markers.clearLayers();
  view.rows.forEach((row) => {
    const [lon, lat] = row.lonlat;
    L.circleMarker([lat, lon], { radius: 7, color: row.props.status === "available" ? "#2e7d32" : "#757575" })
      .bindPopup(popup(row)).addTo(markers); // an element, not an HTML string: typed text stays text
  });
  if (view.rows.length && !view.fitted) {
    map.fitBounds(markers.getBounds(), { maxZoom: 16, padding: [20, 20] });
    view.fitted = true;
  }
  const stale = view.rows.filter(isStale);
  $("stale").hidden = stale.length === 0;
  $("stale-list").replaceChildren(...stale.map((row) => el("li", {}, `${row.props.address} — ${T("staleNote")(CONFIG.stale_after_days)}`)));
  if (view.conflict) drawConflict();
  drawOutlook();
}

// ---- writing -------------------------------------------------------------------------------------

function changesOf(row, inputs) {
  const changes = {};
  EDITABLE.forEach((field) => {
    const raw = inputs[field].value;
    const value = inputs[field].type === "number" ? (raw === "" ? null : Number(raw)) : raw;
    if (value !== (row.props[field] ?? null)) changes[field] = value;
  });
  return changes;
}

async function write(row, changes, done) {
  if (Object.keys(changes).length === 0 && done === "saved") {
    say(T("nothing"));
    return;
  }
  try {
    await call("PATCH", `${ITEMS}/${encodeURIComponent(row.id)}`, changes, { "If-Match": row.etag });
    Object.assign(row, await readOne(row.id));
    view.conflict = null;
    $("conflict").hidden = true;
    draw();
    say(T(done));
  } catch (error) {
    if (error.status !== 412) {
      say(error.message, true);
      return;
    }
    view.conflict = { mine: row, changes, theirs: await readOne(row.id), done };
    draw();
  }
}

function drawConflict() {
  const { changes, theirs } = view.conflict;
  const shown = (field, value) => (field === "use" ? label("uses", value) : field === "status" ? label("statuses", value) : value ?? "");
  $("conflict-table").querySelector("tbody").replaceChildren(...Object.keys(changes).map((field) => el("tr", {},
    el("td", {}, T(field)), el("td", { className: "changed" }, shown(field, changes[field])),
    el("td", {}, shown(field, theirs.props[field])))));
  $("conflict").hidden = false;
}

$("keep-mine").addEventListener("click", () => {
  const { mine, changes, theirs, done } = view.conflict;
  mine.etag = theirs.etag; // made against what is stored now, knowingly
  write(mine, changes, done);
});

$("take-theirs").addEventListener("click", () => {
  const { mine, theirs } = view.conflict;
  Object.assign(mine, theirs);
  view.conflict = null;
  $("conflict").hidden = true;
  draw();
});

// ---- adding: a place from the gazetteer or a click on the map ------------------------------------

const spot = L.circleMarker([0, 0], { radius: 9, color: "#0288d1", weight: 3 }); // drawn: no icon images to fetch

function place(lat, lon, where, building = null) {
  view.place = { lat, lon, building };
  spot.setLatLng([lat, lon]).addTo(map);
  map.panTo([lat, lon]);
  $("place").textContent = T("placed")(where);
}

// A click places the premises in the building under it; open land places nothing.
map.on("click", async (event) => {
  const { lat, lng } = event.latlng;
  try {
    const { building } = await call("GET", `/buildings/at?lon=${lng}&lat=${lat}`);
    if (!building) {
      view.place = null;
      spot.remove();
      $("place").textContent = T("noBuilding");
      say(T("noBuilding"), true);
      return;
    }
    place(lat, lng, T("inBuilding")(building.name || building.id, building.floors), building);
    say("");
  } catch (error) {
    say(error.message, true);
  }
});

// Suggestions from the gazetteer as the address is typed; taking one places the premises.
let typing = null;
$("add-address").addEventListener("input", () => {
  clearTimeout(typing);
  typing = setTimeout(suggest, 250);
});

async function suggest() {
  const text = $("add-address").value.trim();
  const list = $("suggestions");
  if (text.length < 2) {
    list.hidden = true;
    return;
  }
  try {
    const found = await call("GET", `/addresses/complete?q=${encodeURIComponent(text)}`);
    list.replaceChildren(...found.map((s) => {
      const pick = el("button", { type: "button" }, s.address);
      pick.addEventListener("click", () => take(s));
      return el("li", { role: "option" }, pick);
    }));
    list.hidden = found.length === 0;
  } catch (error) {
    list.hidden = true;
  }
}

function take(s) {
  $("add-address").value = s.address;
  $("suggestions").hidden = true;
  const name = s.building ? T("inBuilding")(s.building.name || s.building.id, s.building.floors) : s.level;
  place(s.lat, s.lon, `${s.address} · ${name}`, s.building);
}

// The floor must exist in the building the premises was placed in: said here, in the page's language.
function floorProblem(floor) {
  const b = view.place && view.place.building;
  if (floor === undefined || !b) return null;
  if (floor === 0 || (b.floors && floor > b.floors)) return T("badFloor")(floor, b.name || b.id, b.floors);
  return null;
}

$("locate").addEventListener("click", async () => {
  try {
    const found = await call("GET", `/geocode?q=${encodeURIComponent($("add-address").value.trim())}`);
    if (found.lat === null) throw new Error((found.notes || []).join("; ") || found.level);
    place(found.lat, found.lon, `${found.address || found.normalized} (${found.level})`);
  } catch (error) {
    say(error.message, true);
  }
});

$("add").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!view.place) {
    say(T("noPlace"), true);
    return;
  }
  const num = (id) => ($(id).value === "" ? undefined : Number($(id).value));
  const wrongFloor = floorProblem(num("add-floor"));
  if (wrongFloor) {
    say(wrongFloor, true);
    return;
  }
  const properties = { park_id: $("add-park").value, address: $("add-address").value.trim(), floor: num("add-floor"),
    area_m2: num("add-area"), rent: num("add-rent"), use: $("add-use").value, status: "available" };
  const feature = { type: "Feature", geometry: { type: "Point", coordinates: [view.place.lon, view.place.lat] }, properties };
  try {
    const made = await call("POST", ITEMS, feature);
    view.rows.unshift(await readOne(made.id));
    $("add").reset();
    view.place = null;
    spot.remove();
    draw();
    say(T("added"));
  } catch (error) {
    say(error.message, true);
  }
});

// ---- the park's sheet, down and up ------------------------------------------------------------

const sheetUrl = () => `/parks/${encodeURIComponent($("add-park").value)}/premises.xlsx`;
$("add-park").addEventListener("change", () => { $("download").href = sheetUrl(); });

$("upload").addEventListener("click", async () => {
  const file = $("sheet-file").files[0];
  $("sheet-problems").replaceChildren();
  if (!file) {
    say(T("chooseFile"), true);
    return;
  }
  try {
    const done = await call("POST", `${sheetUrl()}?filename=${encodeURIComponent(file.name)}`, file);
    await load(); // the table as imported first: said before, the reload's end overwrote what came next
    say(T("uploaded")(done));
  } catch (error) {
    const problems = (error.body && error.body.problems) || [];
    say(problems.length ? T("sheetRefused")(problems.length) : error.message, true);
    $("sheet-problems").replaceChildren(...problems.map((p) => el("li", {}, T("row")(p))));
  }
});

// ---- pre-filing ----------------------------------------------------------------------------------

function openPrefile(row) {
  view.filing = row;
  $("prefile-address").textContent = row.props.address;
  $("prefile").hidden = false;
  $("prefile").scrollIntoView();
}

$("prefile-cancel").addEventListener("click", () => { $("prefile").hidden = true; });

$("prefile").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { vacancy_id: view.filing.id, certificate_no: $("prefile-certificate").value.trim(),
    owner: $("prefile-owner").value.trim(), registered_use: $("prefile-use").value.trim(), valid_until: $("prefile-until").value };
  try {
    await call("POST", "/filings", body);
    $("prefile").reset();
    $("prefile").hidden = true;
    await loadFilings();
    draw();
    say(T("filed"));
  } catch (error) {
    say(error.message, true);
  }
});

// ---- what a premises is good for ------------------------------------------------------------------

async function showOutlook(row) {
  $("outlook").hidden = false;
  $("outlook-address").textContent = row.props.address;
  $("outlook-table").querySelector("tbody").replaceChildren();
  $("outlook-note").textContent = T("thinking");
  try {
    view.outlook = await call("GET", `/premises/${encodeURIComponent(row.id)}/outlook`);
    drawOutlook();
    $("outlook").scrollIntoView();
  } catch (error) {
    say(error.message, true);
  }
}

function drawOutlook() {
  const o = view.outlook;
  if (!o) return;
  const en = !zh();
  $("outlook-note").textContent = T("outlookNote")(o.typical_rent);
  $("outlook-table").querySelector("tbody").replaceChildren(...o.industries.map((r) => {
    const name = `${r.industry.code} ${r.industry.name}` + (r.target ? ` · ${T("target")} ${r.target}` : "");
    const reasons = el("ul", {}, ...r.reasons.map((x) => el("li", {}, en ? x.message_en : x.message_zh)));
    const ways = el("ul", {}, ...r.improve.map((w) => el("li", {}, en ? w.message_en : w.message_zh)));
    const rank = r.verdict === "prohibited" ? T("excluded") : r.rank ? T("rankOf")(r.rank, r.of) : T("beyond")(r.listed, r.of);
    return el("tr", { dataset: { code: r.industry.code } }, el("td", {}, name),
      el("td", { className: `verdict-${r.verdict}` }, label("verdicts", r.verdict)), el("td", {}, reasons),
      el("td", {}, rank), el("td", {}, ways));
  }));
}

$("sign-out").addEventListener("click", () => Account.signOut());

(async () => {
  say(T("loading"));
  const me = await Account.session();
  if (!me) {
    window.location.assign("/signin?next=/operator");
    return;
  }
  view.me = me;
  $("who").textContent = me.name;
  $("add-park").replaceChildren(...me.parks.map((p) => el("option", { value: p }, p)));
  $("download").href = sheetUrl();
  $("add-use").replaceChildren(...choice("uses", "office").children);
  if (!["operator", "admin"].includes(me.role)) {
    say(T("notOperator"), true);
    return;
  }
  drawBase(); // only once signed in: a page about to go to /signin starts no request it would cut off
  map.on("moveend", () => showBuildings().catch((error) => say(error.message, true)));
  await load();
  window.siteselect = { ready: true, map, markers, view };
})();
