// The admin's page: users (add, role, parks, disable, reset a password), tokens, and the audit
// trail with filters and export. Everything typed or stored reaches the page as text only.
"use strict";

const ADMIN_TEXT = {
  zh: {
    title: "崂山区智能选址 · 管理", users: "用户", tokens: "令牌", audit: "审计记录", signOut: "退出",
    name: "用户名", role: "角色", parks: "园区", parksHint: "park-001, park-002", password: "初始密码",
    addUser: "添加用户", disabled: "停用", actions: "操作", save: "保存", resetPassword: "重置密码",
    newPassword: "新密码（至少10位）", user: "用户", label: "用途", labelHint: "园区办公室脚本", addToken: "生成令牌",
    shownOnce: "令牌只显示这一次，请妥善保存：", created: "创建", revoked: "吊销", revoke: "吊销",
    who: "操作人", what: "操作", since: "起", until: "止", park: "园区", filter: "筛选", export: "导出 CSV",
    when: "时间", target: "对象", outcome: "结果", detail: "说明", saved: "已保存", added: "已添加",
    notAdmin: "此页面仅限管理员", loading: "加载中…", count: (n) => `共 ${n} 条`,
    roles: { admin: "管理员", clerk: "窗口人员", steward: "数据管理员", operator: "园区运营方" },
    department: "部门（数据管理员）", noDepartment: "—",
    outcomes: { ok: "成功", refused: "拒绝" },
  },
  en: {
    title: "Laoshan site selection · Admin", users: "Users", tokens: "Tokens", audit: "Audit trail", signOut: "Sign out",
    name: "Name", role: "Role", parks: "Parks", parksHint: "park-001, park-002", password: "First password",
    addUser: "Add user", disabled: "Disabled", actions: "Actions", save: "Save", resetPassword: "Reset password",
    newPassword: "New password (10 characters or more)", user: "User", label: "Used for", labelHint: "park office script",
    addToken: "Make token", shownOnce: "The token is shown this once; keep it safe:", created: "Created",
    revoked: "Revoked", revoke: "Revoke", who: "Who", what: "What", since: "From", until: "To", park: "Park",
    filter: "Filter", export: "Export CSV", when: "When", target: "Target", outcome: "Outcome", detail: "Detail",
    saved: "Saved", added: "Added", notAdmin: "This page is for admins", loading: "Loading…",
    count: (n) => `${n} entries`,
    roles: { admin: "admin", clerk: "clerk", steward: "data steward", operator: "park operator" },
    department: "Department (stewards)", noDepartment: "—",
    outcomes: { ok: "ok", refused: "refused" },
  },
};
const ROLES = ["admin", "clerk", "steward", "operator"];
const DEPARTMENTS = JSON.parse(document.getElementById("config").textContent).departments; // code → name
const { el, call } = Account;
const view = { users: [], tokens: [], audit: [] };
const T = Account.translate(ADMIN_TEXT, () => draw());
const $ = (id) => document.getElementById(id);

function say(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

// Run a change, say how it went, and read the tables again.
async function attempt(change, done) {
  try {
    await change();
    say(T(done));
    await load();
  } catch (error) {
    say(error.message, true);
  }
}

const parksOf = (text) => text.split(/[,，\s]+/).filter(Boolean);

function roleSelect(value) {
  const select = el("select", {});
  ROLES.forEach((r) => select.append(el("option", { value: r, selected: r === value }, T("roles")[r])));
  return select;
}

// A data steward's department; other roles have none.
function departmentSelect(value) {
  const select = el("select", {}, el("option", { value: "" }, T("noDepartment")));
  Object.entries(DEPARTMENTS).forEach(([code, name]) => select.append(el("option", { value: code, selected: code === value }, name)));
  return select;
}

// Sent for a steward only (JSON leaves an undefined field out).
const departmentOf = (select, role) => (role === "steward" && select.value) || undefined;

function userRow(u) {
  const role = roleSelect(u.role);
  const parks = el("input", { value: u.parks.join(", ") });
  const department = departmentSelect(u.department);
  const disabled = el("input", { type: "checkbox", checked: u.disabled });
  const save = el("button", { type: "button" }, T("save"));
  save.addEventListener("click", () => attempt(() => call("PATCH", `/users/${encodeURIComponent(u.name)}`, {
    role: role.value, parks: parksOf(parks.value), department: departmentOf(department, role.value), disabled: disabled.checked,
  }), "saved"));
  const password = el("input", { type: "password", autocomplete: "new-password", placeholder: T("newPassword") });
  const reset = el("button", { type: "button", className: "quiet" }, T("resetPassword"));
  reset.addEventListener("click", () => attempt(() => call("PUT", `/users/${encodeURIComponent(u.name)}/password`, {
    password: password.value,
  }), "saved"));
  return el("tr", { dataset: { name: u.name } }, el("td", {}, u.name), el("td", {}, role), el("td", {}, parks),
    el("td", {}, department), el("td", {}, disabled), el("td", {}, save, password, reset));
}

// An instant of the service (UTC) in the reader's own time zone and language.
const day = (iso) => (iso ? new Date(iso).toLocaleString(document.documentElement.lang) : "");

function tokenRow(tk) {
  const actions = el("td", {});
  if (!tk.revoked_at) {
    const revoke = el("button", { type: "button", className: "quiet" }, T("revoke"));
    revoke.addEventListener("click", () => attempt(() => call("DELETE", `/tokens/${tk.id}`), "saved"));
    actions.append(revoke);
  }
  return el("tr", {}, el("td", {}, tk.id), el("td", {}, tk.name), el("td", {}, tk.label),
    el("td", {}, day(tk.created_at)), el("td", {}, day(tk.revoked_at)), actions);
}

function auditRow(e) {
  const row = el("tr", { className: e.outcome }, el("td", {}, day(e.at)), el("td", {}, e.actor),
    el("td", {}, e.action), el("td", {}, e.target), el("td", {}, e.park || ""),
    el("td", {}, T("outcomes")[e.outcome] || e.outcome), el("td", { className: "detail" }, e.detail));
  return row;
}

function fill(tableId, rows) {
  $(tableId).querySelector("tbody").replaceChildren(...rows);
}

function draw() {
  if (!view.me) return;
  fill("user-table", view.users.map(userRow));
  fill("token-table", view.tokens.map(tokenRow));
  fill("audit-table", view.audit.map(auditRow));
  $("new-role").replaceChildren(...roleSelect($("new-role").value || "operator").children);
  $("new-department").replaceChildren(...departmentSelect($("new-department").value).children);
  const chosen = $("token-user").value;
  $("token-user").replaceChildren(...view.users.filter((u) => !u.disabled)
    .map((u) => el("option", { value: u.name, selected: u.name === chosen }, u.name)));
  $("who").textContent = `${view.me.name} (${T("roles")[view.me.role]})`;
}

// The audit filters as query parameters: the table and the CSV export use the same ones.
function auditQuery(format) {
  const q = new URLSearchParams();
  const put = (key, value) => { if (value) q.set(key, value); };
  put("actor", $("f-actor").value.trim());
  put("action", $("f-action").value.trim());
  // the days as the reader's own calendar has them, sent as UTC instants
  put("since", $("f-since").value && new Date(`${$("f-since").value}T00:00:00`).toISOString());
  put("until", $("f-until").value && new Date(`${$("f-until").value}T23:59:59.999`).toISOString());
  put("park", $("f-park").value.trim());
  if (format) q.set("format", format);
  return q.toString();
}

async function load() {
  [view.users, view.tokens, view.audit] = await Promise.all([
    call("GET", "/users"), call("GET", "/tokens"), call("GET", `/audit?${auditQuery()}`),
  ]);
  $("export").href = `/audit?${auditQuery("csv")}`;
  draw();
}

document.querySelectorAll("button.tab").forEach((button) => button.addEventListener("click", () => {
  document.querySelectorAll("button.tab").forEach((b) => b.classList.toggle("active", b === button));
  document.querySelectorAll("section.tabbed").forEach((s) => { s.hidden = s.id !== button.dataset.tab; });
}));

$("add-user").addEventListener("submit", (event) => {
  event.preventDefault();
  const body = { name: $("new-name").value.trim(), role: $("new-role").value, parks: parksOf($("new-parks").value),
    department: departmentOf($("new-department"), $("new-role").value) };
  if ($("new-password").value) body.password = $("new-password").value;
  attempt(async () => {
    await call("POST", "/users", body);
    $("add-user").reset();
  }, "added");
});

$("add-token").addEventListener("submit", (event) => {
  event.preventDefault();
  attempt(async () => {
    const made = await call("POST", "/tokens", { user: $("token-user").value, label: $("token-label").value });
    $("token-value").textContent = made.token;
    $("new-token").hidden = false;
  }, "added");
});

$("audit-filter").addEventListener("submit", (event) => {
  event.preventDefault();
  attempt(async () => {}, "loading").then(() => say(T("count")(view.audit.length)));
});

$("sign-out").addEventListener("click", () => Account.signOut());

(async () => {
  const me = await Account.session();
  if (!me) {
    window.location.assign("/signin?next=/admin");
    return;
  }
  view.me = me;
  if (me.role !== "admin") {
    say(T("notAdmin"), true);
    document.querySelectorAll("section.tabbed, header nav").forEach((s) => { s.hidden = true; });
    $("who").textContent = me.name;
    return;
  }
  await load();
})();
