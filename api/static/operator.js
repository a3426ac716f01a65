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
  },
};
const { el, call, tagged } = Account;
const $ = (id) => document.getElementById(id);
const view = { me: null, rows: [], conflict: null };
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
  draw();
  say(T("count")(view.rows.length));
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
  const cell = (node) => el("td", {}, node);
  return el("tr", { dataset: { id: row.id } }, cell(p.address), cell(p.building_id ?? ""), cell(inputs.floor),
    cell(inputs.area_m2), cell(inputs.rent), cell(inputs.use), cell(inputs.status),
    cell(p.prefiled ? T("yes") : T("no")), cell(p.available_from ?? ""), cell(day(p.updated_at)), actions);
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

function place(lat, lon, where) {
  view.place = { lat, lon };
  spot.setLatLng([lat, lon]).addTo(map);
  map.panTo([lat, lon]);
  $("place").textContent = T("placed")(where);
}

map.on("click", (event) => place(event.latlng.lat, event.latlng.lng, T("clicked")));

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
  $("add-use").replaceChildren(...choice("uses", "office").children);
  if (!["operator", "admin"].includes(me.role)) {
    say(T("notOperator"), true);
    return;
  }
  drawBase(); // only once signed in: a page about to go to /signin starts no request it would cut off
  await load();
  window.siteselect = { ready: true, map, markers, view };
})();
