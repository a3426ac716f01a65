// The sign-in page: name and password, then back to the page that sent the user here.
"use strict";

const SIGNIN_TEXT = {
  zh: { title: "崂山区智能选址 · 登录", name: "用户名", password: "密码", signIn: "登录",
        wrong: "用户名或密码错误，或账号已停用", locked: "密码错误次数过多，请稍后再试", working: "登录中…" },
  en: { title: "Laoshan site selection · Sign in", name: "User name", password: "Password", signIn: "Sign in",
        wrong: "Wrong name or password, or the account is disabled", locked: "Too many wrong passwords; try again later",
        working: "Signing in…" },
};
const signinT = Account.translate(SIGNIN_TEXT);

// Only a path of this service: a link to /signin?next=https://elsewhere must not send anyone away.
function nextPage() {
  const next = new URLSearchParams(window.location.search).get("next") || "/admin";
  return /^\/(?![/\\])/.test(next) ? next : "/admin";
}

document.getElementById("signin").addEventListener("submit", async (event) => {
  event.preventDefault();
  const status = document.getElementById("status");
  status.className = "";
  status.textContent = signinT("working");
  try {
    await Account.call("POST", "/session", {
      name: document.getElementById("name").value, password: document.getElementById("password").value,
    });
    window.location.assign(nextPage());
  } catch (error) {
    status.className = "error";
    status.textContent = error.status === 429 ? signinT("locked") : error.status === 401 ? signinT("wrong") : error.message;
  }
});
