// The register of reports, for clerks and admins: search stored reports by application number,
// address, industry and day, and open one. Everything stored reaches the page as text only.
"use strict";

const CONFIG = JSON.parse(document.getElementById("config").textContent);
const REGISTER_TEXT = {
  zh: {
    title: "崂山区智能选址 · 报告登记簿", signOut: "退出", applicationNo: "申请编号", address: "地址",
    industry: "行业", industryHint: "网吧、62、9013", from: "起", to: "止", search: "查询",
    caption: "已存档的报告", madeAt: "生成时间", applicant: "申请人", clerk: "经办人", verdicts: "结论",
    report: "报告", open: "打开报告", previous: "上一页", next: "下一页", loading: "查询中…",
    notClerk: "此页面仅限窗口人员和管理员", none: "没有符合条件的报告", drawnAgain: "（旧报告，无存档结论）",
    count: (n) => `共 ${n} 份报告`, pageOf: (p, n) => `第 ${p} / ${n} 页`, choose: "请选择行业：",
  },
  en: {
    title: "Laoshan site selection · Report register", signOut: "Sign out", applicationNo: "Application no.",
    address: "Address", industry: "Industry", industryHint: "internet café, 62, 9013", from: "From", to: "To",
    search: "Search", caption: "Stored reports", madeAt: "Made at", applicant: "Applicant", clerk: "Clerk",
    verdicts: "Verdicts", report: "Report", open: "Open report", previous: "Previous", next: "Next",
    loading: "Searching…", notClerk: "This page is for clerks and admins", none: "No report matches",
    drawnAgain: "(an older report: no verdict stored)", count: (n) => `${n} reports`,
    pageOf: (p, n) => `page ${p} of ${n}`, choose: "Choose the industry:",
  },
};
const { el, call } = Account;
const $ = (id) => document.getElementById(id);
const view = { answer: null, page: 1 };
const T = Account.translate(REGISTER_TEXT, () => draw());
const lang = () => (document.documentElement.lang === "en" ? 1 : 0); // [zh, en] in the labels

function say(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

// An instant of the service (UTC) in the reader's own time zone and language.
const when = (iso) => new Date(iso).toLocaleString(document.documentElement.lang);

function verdictBadge(verdict) {
  const style = `background: ${CONFIG.colours[verdict]}`;
  return el("span", { className: `verdict ${verdict}`, style }, CONFIG.verdicts[verdict][lang()]);
}

function cell(key, ...children) {
  return el("td", { dataset: { label: T(key) } }, ...children);
}

function reportRow(r) {
  const industry = r.industry ? `${r.industry.code} ${r.industry.name}` : "";
  const verdicts = r.verdicts ? r.verdicts.map(verdictBadge) : [T("drawnAgain")];
  const link = el("a", { href: r.url, target: "_blank", rel: "noopener" }, T("open"));
  link.setAttribute("aria-label", `${T("open")} ${r.application_no || r.id}`);
  return el("tr", { dataset: { id: r.id } },
    cell("madeAt", when(r.made_at)), cell("applicationNo", r.application_no || ""),
    cell("applicant", r.applicant || ""), cell("clerk", r.clerk || ""),
    el("td", { className: "addresses", dataset: { label: T("address") } }, r.addresses.join("；")),
    cell("industry", industry), cell("verdicts", ...verdicts), cell("report", link));
}

function draw() {
  if (view.notice) say(T(view.notice), true);
  const answer = view.answer;
  if (!answer) return;
  $("report-table").querySelector("tbody").replaceChildren(...answer.reports.map(reportRow));
  say(answer.total ? T("count")(answer.total) : T("none"));
  $("pager").hidden = answer.pages < 2;
  $("page-of").textContent = T("pageOf")(answer.page, Math.max(answer.pages, 1));
  $("previous").disabled = answer.page <= 1;
  $("next").disabled = answer.page >= answer.pages;
}

function query() {
  const q = new URLSearchParams();
  const put = (key, input) => { if ($(input).value.trim()) q.set(key, $(input).value.trim()); };
  put("application_no", "q-application-no");
  put("address", "q-address");
  put("industry", "q-industry");
  put("from", "q-from");
  put("to", "q-to");
  q.set("page", view.page);
  return q.toString();
}

// Words that fit several industries: offer each, as the map page does.
function offer(candidates) {
  const buttons = candidates.map((c) => {
    const button = el("button", { type: "button", className: "quiet" }, `${c.code} ${c.name}`);
    button.addEventListener("click", () => { $("q-industry").value = c.code; search(1); });
    return button;
  });
  $("choices").replaceChildren(...(buttons.length ? [el("span", {}, T("choose")), ...buttons] : []));
}

async function search(page) {
  view.page = page;
  offer([]);
  say(T("loading"));
  try {
    view.answer = await call("GET", `/reports?${query()}`);
    draw();
  } catch (error) {
    view.answer = null;
    $("report-table").querySelector("tbody").replaceChildren();
    $("pager").hidden = true;
    say(error.message, true);
    offer((error.body && error.body.candidates) || []);
  }
}

$("search").addEventListener("submit", (event) => {
  event.preventDefault();
  search(1);
});
$("previous").addEventListener("click", () => search(view.page - 1));
$("next").addEventListener("click", () => search(view.page + 1));
$("sign-out").addEventListener("click", () => Account.signOut());

(async () => {
  const me = await Account.session();
  if (!me) {
    window.location.assign("/signin?next=/reports/register");
    return;
  }
  $("who").textContent = me.name;
  if (!CONFIG.roles.includes(me.role)) {
    view.notice = "notClerk";
    draw();
    document.querySelectorAll("#search, .scroll").forEach((s) => { s.hidden = true; });
    return;
  }
  await search(1);
})();
