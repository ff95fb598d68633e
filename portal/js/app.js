// The page frame: routes, the menu, and small helpers every page uses.

import { ApiError, api, hasRole, session } from "./api.js";

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

// A confirmation to show on the page drawn next (after an action redraws it).
let flash = null;

export const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A page's title, with the confirmation of the action that led to it.
export function heading(main, title) {
  main.append(h("h1", {}, title));
  if (flash) main.append(okBox(flash));
  flash = null;
}

export function redraw(hash, message) {
  flash = message;
  navigate(hash);
}

// Lists are read models a moment behind the change just made: read again until
// the change shows, for a few seconds at most.
export async function settled(read, done, tries = 16) {
  for (let attempt = 0; ; attempt += 1) {
    const answer = await read();
    if (done(answer) || attempt >= tries) return answer;
    await pause(500);
  }
}

// Where holders and staff read their notices, and mark one read.
export const HOLDER_INBOX = { hash: "#/inbox", read: "/v1/me/notices", cardClass: "notice" };
export const STAFF_INBOX = { hash: "#/staff/inbox", read: "/v1/staff/notices", cardClass: "staff-notice" };

export function noticeCard(notice, inbox) {
  const card = h(
    "section",
    {
      class: `card ${inbox.cardClass}${notice.read ? "" : " unread"}`,
      id: `notice-${notice.notice_id}`,
      dataset: { kind: notice.kind, read: String(notice.read) },
    },
    h("h2", {}, notice.title),
    h("p", { class: "muted" }, dateTime(notice.created_at)),
    h("p", {}, notice.body),
  );
  if (!notice.read) {
    const markRead = () =>
      attempt(card, async () => {
        await api("POST", `${inbox.read}/${notice.notice_id}/read`);
        redraw(inbox.hash, null);
      });
    card.append(h("button", { type: "button", class: "secondary", onclick: markRead }, "标为已读"));
  }
  return card;
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
