// The page frame: routes, the menu, and small helpers every page uses.

import { ApiError, hasRole, session } from "./api.js";

const routes = new Map();
const menu = [];

// route("#/certificates", render, { roles: ["applicant"] }): `render(main, params)`
// fills the page. Without roles a page is public; "guest" means signed out.
export function route(hash, render, { roles = null } = {}) {
  routes.set(hash, { render, roles });
}

export function menuItem(label, hash, roles = null) {
  menu.push({ label, hash, roles });
}

export function navigate(hash) {
  if (location.hash === hash) start();
  else location.hash = hash;
}

// h("p", { class: "muted" }, "text", child): a DOM element.
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

// An error the person can act on: the API's message, never a stack trace.
export function errorBox(error) {
  const text =
    error instanceof ApiError ? error.message : "出现了意外错误，请刷新页面后再试。";
  const code = error instanceof ApiError ? error.code : "unexpected";
  return h("div", { class: "message error", role: "alert", dataset: { code } }, text);
}

export function okBox(text) {
  return h("div", { class: "message ok", role: "status" }, text);
}

// Run an action from a form or button; show its error in `where`.
export async function attempt(where, action) {
  where.querySelectorAll(":scope > .message").forEach((old) => old.remove());
  try {
    return await action();
  } catch (error) {
    where.prepend(errorBox(error));
    if (!(error instanceof ApiError)) console.error(error);
    return undefined;
  }
}

export function values(form) {
  return Object.fromEntries(new FormData(form).entries());
}

export function field(label, input) {
  const id = input.id || `f-${input.name}`;
  input.id = id;
  return h("div", {}, h("label", { for: id }, label), input);
}

export function dateTime(iso) {
  return new Date(iso).toLocaleString("zh-CN", {
    timeZone: "Asia/Shanghai",
    month: "numeric",
    day: "numeric",
    weekday: "short",
    hour: "2-digit",
    minute: "2-digit",
  });
}

let guideCache;
export async function guide() {
  guideCache ??= fetch("/guide.json").then((answer) => answer.json());
  return guideCache;
}

function allowed(roles) {
  if (!roles) return true;
  if (roles.includes("guest")) return !session();
  return hasRole(...roles);
}

function drawMenu() {
  const nav = document.getElementById("nav");
  nav.replaceChildren(
    ...menu
      .filter((item) => allowed(item.roles))
      .map((item) =>
        h(
          "a",
          { href: item.hash, "aria-current": location.hash === item.hash && "page" },
          item.label,
        ),
      ),
  );
}

export async function start() {
  drawMenu();
  const main = document.getElementById("main");
  const [hash, query] = (location.hash || "#/").split("?");
  const params = new URLSearchParams(query ?? "");
  let page = routes.get(location.pathname === "/verify" ? "/verify" : hash);
  if (location.pathname === "/verify") {
    new URLSearchParams(location.search).forEach((value, key) => params.set(key, value));
  }
  page ??= routes.get("#/");
  main.replaceChildren();
  if (!allowed(page.roles)) {
    main.append(errorBox(new ApiError(401, "sign_in_required", "请先登录。")));
    return;
  }
  try {
    await page.render(main, params);
  } catch (error) {
    main.append(errorBox(error));
  }
  main.focus();
}

window.addEventListener("hashchange", start);
