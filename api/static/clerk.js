// The registration clerk's queue of pre-filings: approve, or return with a reason; then check a
// premises and see its address proof. Data goes in as text only; labels come from the service.
"use strict";

const CONFIG = JSON.parse(document.getElementById("config").textContent);
const CLERK_TEXT = {
  zh: {
    title: "崂山区智能选址 · 预备案审核", signOut: "退出", queue: "待审核的预备案", premises: "房源", park: "园区",
    certificateNo: "不动产权证号", owner: "权利人", registeredUse: "登记用途", validUntil: "有效期至", filedBy: "提交",
    decide: "审核", approve: "通过", giveBack: "退回", reasonHint: "退回原因", needReason: "请填写退回原因",
    approved: (n) => `已通过，预备案编号 ${n}`, returned: "已退回", checkTitle: "核查房源", industry: "行业", checkIt: "核查",
    decided: "已审核", outcome: "结果", number: "预备案编号", reason: "退回原因", decidedBy: "审核人",
    statuses: { approved: "通过", returned: "退回", pending: "待审核" }, notClerk: "此页面供登记窗口使用",
    loading: "加载中…", count: (n) => `待审核 ${n} 件`,
    prefiled: (f) => `住所证明：已预备案（编号 ${f.number}，${f.approved_on} 通过，有效期至 ${f.valid_until}）`,
    prefiledPlain: "住所证明：园区预备案房源", notPrefiled: "住所证明：未预备案",
  },
  en: {
    title: "Laoshan site selection · Pre-filings", signOut: "Sign out", queue: "Pre-filings waiting", premises: "Premises",
    park: "Park", certificateNo: "Certificate no.", owner: "Owner", registeredUse: "Registered use", validUntil: "Valid until",
    filedBy: "Filed by", decide: "Decide", approve: "Approve", giveBack: "Return", reasonHint: "why it is returned",
    needReason: "Say why it is returned", approved: (n) => `Approved as ${n}`, returned: "Returned",
    checkTitle: "Check premises", industry: "Industry", checkIt: "Check", decided: "Decided", outcome: "Outcome",
    number: "Filing no.", reason: "Reason returned", decidedBy: "Decided by",
    statuses: { approved: "approved", returned: "returned", pending: "waiting" }, notClerk: "This page is for registration clerks",
    loading: "Loading…", count: (n) => `${n} waiting`,
    prefiled: (f) => `Address proof: pre-filed (no. ${f.number}, approved ${f.approved_on}, valid until ${f.valid_until})`,
    prefiledPlain: "Address proof: pre-filed premises of a park", notPrefiled: "Address proof: not pre-filed",
  },
};
const { el, call } = Account;
const $ = (id) => document.getElementById(id);
const view = { filings: [], listings: {}, result: null };
const T = Account.translate(CLERK_TEXT, () => draw());
const zh = () => document.documentElement.lang !== "en";
const label = (group, code) => (CONFIG[group][code] ? CONFIG[group][code][zh() ? 0 : 1] : code ?? "");

function say(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

const map = L.map("clerk-map").fitBounds(CONFIG.bounds);
const markers = L.featureGroup().addTo(map);

async function load() {
  view.filings = await call("GET", "/filings");
  const ids = [...new Set(view.filings.map((f) => f.listing_id))].filter((id) => !view.listings[id]);
  await Promise.all(ids.map(async (id) => {
    try {
      view.listings[id] = await call("GET", `/ogc/collections/vacancies/items/${encodeURIComponent(id)}`);
    } catch (error) {
      view.listings[id] = null; // withdrawn since it was filed
    }
  }));
  draw();
  say(T("count")(view.filings.filter((f) => f.status === "pending").length));
}

const addressOf = (id) => (view.listings[id] ? view.listings[id].properties.address : id);

function queueRow(f) {
  const reason = el("input", { type: "text", maxLength: 500, placeholder: T("reasonHint"), className: "reason" });
  const ok = el("button", { type: "button", className: "approve" }, T("approve"));
  const back = el("button", { type: "button", className: "quiet give-back" }, T("giveBack"));
  ok.addEventListener("click", () => decide(f, "approve"));
  back.addEventListener("click", () => {
    if (!reason.value.trim()) {
      say(T("needReason"), true);
      return;
    }
    decide(f, "return", { reason: reason.value.trim() });
  });
  const cell = (...nodes) => el("td", {}, ...nodes);
  return el("tr", { dataset: { id: String(f.id), listing: f.listing_id } }, cell(addressOf(f.listing_id)), cell(f.park_id),
    cell(f.certificate_no), cell(f.owner), cell(f.registered_use), cell(f.valid_until), cell(f.filed_by),
    cell(ok, back, reason));
}

function decidedRow(f) {
  const cell = (text) => el("td", {}, text ?? "");
  return el("tr", { dataset: { id: String(f.id) } }, cell(addressOf(f.listing_id)), cell(T("statuses")[f.status]),
    cell(f.number), cell(f.reason), cell(f.decided_by));
}

function draw() {
  if (!view.me) return;
  const pending = view.filings.filter((f) => f.status === "pending");
  $("queue").querySelector("tbody").replaceChildren(...pending.map(queueRow));
  $("decided").querySelector("tbody").replaceChildren(...view.filings.filter((f) => f.status !== "pending").map(decidedRow));
  const chosen = $("check-premises").value;
  const ids = [...new Set(view.filings.map((f) => f.listing_id))].filter((id) => view.listings[id]);
  $("check-premises").replaceChildren(...ids.map((id) => el("option", { value: id, selected: id === chosen }, `${addressOf(id)} (${id})`)));
  markers.clearLayers();
  ids.forEach((id) => {
    const [lon, lat] = view.listings[id].geometry.coordinates;
    const waiting = pending.some((f) => f.listing_id === id);
    L.circleMarker([lat, lon], { radius: 7, color: waiting ? "#ef6c00" : "#2e7d32" })
      .bindPopup(el("div", {}, addressOf(id))).addTo(markers); // an element: typed text stays text
  });
  if (ids.length && !view.fitted) {
    map.fitBounds(markers.getBounds(), { maxZoom: 16, padding: [20, 20] });
    view.fitted = true;
  }
  drawResult();
}

async function decide(f, how, body) {
  try {
    const done = await call("POST", `/filings/${f.id}/${how}`, body);
    await load();
    say(how === "approve" ? T("approved")(done.number) : T("returned"));
  } catch (error) {
    say(error.message, true);
  }
}

$("check").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    view.result = await call("POST", "/check", { industry: $("check-industry").value.trim(), vacancy_id: $("check-premises").value });
    drawResult();
  } catch (error) {
    say(error.message, true);
  }
});

function drawResult() {
  const r = view.result;
  if (!r) return;
  const p = r.address_proof;
  $("result").hidden = false;
  $("verdict").textContent = `${label("verdicts", r.verdict)} · ${r.industry.code} ${r.industry.name}`;
  const vid = r.location.given.vacancy_id;
  const own = p.prefilings.find((f) => f.vacancy_id === vid) || p.prefilings[0];
  $("proof").textContent = own ? T("prefiled")(own) : p.prefiled ? T("prefiledPlain") : T("notPrefiled");
  $("reasons").replaceChildren(...r.reasons.filter((x) => x.outcome !== "passed").map((x) => el("li", {}, zh() ? x.message_zh : x.message_en)));
}

$("sign-out").addEventListener("click", () => Account.signOut());

(async () => {
  say(T("loading"));
  const me = await Account.session();
  if (!me) {
    window.location.assign("/signin?next=/clerk");
    return;
  }
  view.me = me;
  $("who").textContent = me.name;
  if (!["clerk", "admin"].includes(me.role)) {
    say(T("notClerk"), true);
    return;
  }
  call("GET", "/basemap").then((base) => L.geoJSON(base, {
    style: (f) => (f.properties.layer === "roads" ? { color: "#bdbdbd", weight: 4 } : { color: "#455a64", weight: 2, fill: false }),
  }).addTo(map).bringToBack());
  await load();
  window.siteselect = { ready: true, map, markers, view };
})();
