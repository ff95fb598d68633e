// Pages for the centre's staff: review, counter, shipping, batches, deadlines.
// Each page shows only what the caller's roles may do (the `x-roles` of the APIs);
// addresses carry at most an application's id, a day, a month or a deadline kind.

import { api, hasRole } from "./api.js";
import { STAFF_INBOX, attempt, dateTime, field, h, heading, menuItem, navigate, noticeCard, redraw, route, settled } from "./app.js";

const REVIEWER = ["reviewer"];
const COUNTER = ["counter_clerk"];
const SHIPPING = ["shipping_clerk"];
const ADMIN = ["administrator"];
const SIGNERS = ["administrator", "reviewer"];
const STAFF = ["administrator", "counter_clerk", "reviewer", "shipping_clerk"];

// What each role finds on its desk: the staff home lists the same pages.
const PAGES = [
  { label: "补办审核", hash: "#/review", roles: REVIEWER, about: "待审核的补办申请，按审核期限排序。" },
  { label: "发证窗口", hash: "#/counter", roles: COUNTER, about: "查找当天的预约，登记本人或代领发放。" },
  { label: "证书邮寄", hash: "#/shipping", roles: SHIPPING, about: "待寄出的邮寄申请，登记运单号。" },
  { label: "补发批次", hash: "#/reissue-batches", roles: SIGNERS, about: "部里的月度批次，到达后 5 个工作日内同步数据。" },
  { label: "电子证书签章", hash: "#/ecerts", roles: SIGNERS, about: "行业主管部门已签发、待中心签章的电子证书。" },
  { label: "办理期限", hash: "#/deadlines", roles: STAFF, about: "所有未办结的承诺期限，逾期的标红。" },
  { label: "工作消息", hash: "#/staff/inbox", roles: STAFF, about: "逾期提醒等发给本岗位的消息。" },
];

menuItem("工作台", "#/staff", STAFF);
for (const page of PAGES) menuItem(page.label, page.hash, page.roles);

const REASONS = { lost: "遗失", damaged: "损毁", custody_expired: "超过保管期未领取" };
const KINDS = {
  national_paper: "国家级纸质证书",
  regional_industry: "自治区级电子证书（行业）",
  regional_health: "自治区级电子证书（卫生健康）",
};
const BOOKING_STATES = { booked: "待领取", cancelled: "已取消", lapsed: "未到场，已失效", collected: "已领取" };
const DEADLINE_KINDS = {
  review: "补办资料审核",
  centre_signature: "电子证书中心签章",
  mail_shipment: "证书邮寄寄出",
  reissue_sync: "补发证书数据同步",
};

// Today and this month in Beijing, which the centre's dates are written in.
const today = () => new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());
const thisMonth = () => today().slice(0, 7);
const clock = (iso) => iso.slice(11, 16);
const qualificationText = (q) => [q.name, q.level, q.specialty].filter(Boolean).join(" · ");

function daysLeft(left, overdue) {
  if (overdue) return left < 0 ? `已逾期 ${-left} 个工作日` : "已逾期";
  return left === 0 ? "今天到期" : `剩 ${left} 个工作日`;
}

// The due date, the working days left and, once passed, a red flag.
function dueCell(due, left, overdue) {
  return h(
    "td",
    { class: "due" },
    h("div", {}, due),
    h("span", { class: `state${overdue ? " overdue" : ""}`, dataset: { daysLeft: String(left) } }, daysLeft(left, overdue)),
  );
}

// A list too wide for a phone scrolls sideways inside its frame, not the page.
function table(head, rows, props = {}) {
  return h(
    "div",
    { class: "table-wrap" },
    h("table", { class: "list", ...props }, h("thead", {}, h("tr", {}, head.map((label) => h("th", { scope: "col" }, label)))), h("tbody", {}, rows)),
  );
}

function empty(text) {
  return h("p", { class: "card muted" }, text);
}

// --- 工作台 -----------------------------------------------------------------------

route(
  "#/staff",
  async (main) => {
    heading(main, "工作台");
    const { deadlines } = await api("GET", "/v1/staff/deadlines");
    const overdue = deadlines.filter((d) => d.overdue).length;
    main.append(
      h(
        "section",
        { class: `card${overdue ? " alert" : ""}`, id: "deadline-summary" },
        h("p", {}, `未办结的承诺期限 ${deadlines.length} 项`, overdue ? `，其中 ${overdue} 项已逾期` : "", "。"),
      ),
      h(
        "div",
        { class: "desk", id: "desk" },
        PAGES.filter((page) => hasRole(...page.roles)).map((page) =>
          h("a", { class: "card desk-item", href: page.hash }, h("strong", {}, page.label), h("span", { class: "muted" }, page.about)),
        ),
      ),
    );
  },
  { roles: STAFF },
);

// --- 补办审核 ---------------------------------------------------------------------

route(
  "#/review",
  (main, params) => (params.get("id") ? reviewPage(main, params.get("id")) : queuePage(main)),
  { roles: REVIEWER },
);

// The application just returned or approved leaves the queue a moment later.
let leaving = null;

async function queuePage(main) {
  heading(main, "补办审核");
  const gone = leaving;
  leaving = null;
  const { applications } = await settled(
    () => api("GET", "/v1/review/applications"),
    (answer) => !answer.applications.some((a) => a.application_id === gone),
    gone ? 16 : 0,
  );
  const queue = [...applications].sort(
    (a, b) => a.review_due.localeCompare(b.review_due) || a.submitted_at.localeCompare(b.submitted_at),
  );
  const overdue = queue.filter((a) => a.overdue).length;
  main.append(
    h("p", { class: "muted" }, `共 ${queue.length} 份待审核，按审核期限排序`, overdue ? `，${overdue} 份已逾期` : "", "。每次提交后 3 个工作日内审核。"),
  );
  if (queue.length === 0) {
    main.append(empty("目前没有待审核的补办申请。"));
    return;
  }
  main.append(
    table(
      ["审核期限", "持证人", "证书", "原因", "提交", ""],
      queue.map((a) =>
        h(
          "tr",
          { class: a.overdue ? "overdue" : null, dataset: { application: a.application_id, overdue: String(a.overdue) } },
          dueCell(a.review_due, a.working_days_left, a.overdue),
          h("td", {}, a.holder_name),
          h("td", {}, h("div", {}, a.certificate_number), h("small", { class: "muted" }, qualificationText(a.qualification))),
          h("td", {}, REASONS[a.reason] ?? a.reason),
          h("td", {}, dateTime(a.submitted_at), a.submissions > 1 && h("div", { class: "muted" }, `第 ${a.submissions} 次提交`)),
          h("td", {}, h("a", { class: "button secondary", href: `#/review?id=${a.application_id}` }, "审核")),
        ),
      ),
      { id: "review-queue" },
    ),
  );
}

async function reviewPage(main, id) {
  const application = await api("GET", `/v1/review/applications/${id}`);
  heading(main, "审核补办申请");
  const waiting = application.state === "submitted";
  main.append(
    h(
      "section",
      { class: "card", id: "application", dataset: { state: application.state } },
      h("h2", {}, qualificationText(application.qualification)),
      h("p", {}, `证书编号 ${application.certificate_number} · ${KINDS[application.kind] ?? application.kind}`),
      h("p", {}, `持证人：${application.holder_name}`),
      h("p", {}, "状态：", h("span", { class: `state ${application.state}`, id: "application-state" }, application.state_label)),
      h("p", {}, "补办原因：", h("strong", { id: "application-reason" }, REASONS[application.reason] ?? application.reason)),
      application.review_due && h("p", { class: "muted" }, `最迟于 ${application.review_due} 审核`),
      application.notice && h("p", { class: "muted" }, application.notice),
    ),
    h("h2", {}, "补办材料"),
    h("div", { id: "materials" }, application.materials.map((m) => materialCard(application, m))),
    waiting ? decisionCard(application) : h("p", { class: "card muted" }, "这份申请不在待审核状态，无需处理。"),
    historyCard(application),
    h("a", { class: "button secondary", href: "#/review" }, "返回审核列表"),
  );
  // The photo is printed on the certificate: the reviewer always looks at it.
  const photo = application.materials.find((m) => m.material === "photo" && m.uploaded);
  if (photo) main.querySelector("#material-photo button")?.click();
}

const TYPES = { "image/jpeg": "JPG 图片", "image/png": "PNG 图片", "application/pdf": "PDF" };
const kb = (size) => `${Math.max(1, Math.round(size / 1024))} KB`;

function materialCard(application, material) {
  const card = h(
    "div",
    { class: "card material", id: `material-${material.material}`, dataset: { uploaded: String(material.uploaded) } },
    h("p", {}, h("strong", {}, material.title), material.required ? "（必要）" : "（非必要）"),
    h("p", { class: "muted" }, material.uploaded ? `${TYPES[material.content_type] ?? material.content_type}，${kb(material.size)}` : "未上传"),
  );
  if (material.uploaded) {
    card.append(
      h("button", { type: "button", class: "secondary", onclick: () => showMaterial(card, application, material) }, "查看"),
    );
  }
  return card;
}

// Blob addresses of the materials on show, let go when the page changes.
const previews = [];
window.addEventListener("hashchange", () => previews.splice(0).forEach((url) => URL.revokeObjectURL(url)));

// The file comes with the access token and is shown from a blob: its address
// carries neither the token nor anything about the holder.
async function showMaterial(card, application, material) {
  await attempt(card, async () => {
    const path = `/v1/review/applications/${application.application_id}/materials/${material.material}`;
    const blob = await (await api("GET", path, undefined, { raw: true })).blob();
    const url = URL.createObjectURL(blob);
    previews.push(url);
    const open = h("a", { href: url, target: "_blank", rel: "noopener" }, "在新窗口打开");
    const view =
      blob.type === "application/pdf"
        ? h("object", { data: url, type: "application/pdf", class: "preview" }, h("p", {}, open))
        : h("img", { src: url, alt: material.title, class: "preview" });
    card.querySelector(".preview-box")?.remove();
    card.append(h("div", { class: "preview-box" }, view, h("p", {}, open.cloneNode(true))));
  });
}

function decisionCard(application) {
  const id = application.application_id;
  const card = h("section", { class: "card", id: "decision" }, h("h2", {}, "审核意见"));
  const approve = h("button", { type: "button", id: "approve" }, "审核通过");
  approve.addEventListener("click", () =>
    attempt(card, async () => {
      const answer = await api("POST", `/v1/review/applications/${id}/approve`);
      leaving = id;
      redraw("#/review", answer.batch ? `已审核通过，编入 ${answer.batch} 批次报送部里。` : "已审核通过，等待电子证书签发。");
    }),
  );
  card.append(approve, returnForm(card, application));
  return card;
}

// What the holder should change, and which materials or fields: the holder's page
// marks those.
function returnForm(card, application) {
  const id = application.application_id;
  const problems = [
    ...application.materials.map((m) => [m.material, m.title]),
    ["reason", "补办原因"],
  ];
  const form = h(
    "form",
    { id: "return" },
    h("h3", {}, "退回申请人修改"),
    field("退回说明（申请人可见）", h("textarea", { name: "message", id: "f-message", maxlength: 1000, required: true })),
    h(
      "fieldset",
      { class: "ticks" },
      h("legend", {}, "需要修改的材料或内容"),
      problems.map(([value, title]) =>
        h("label", { class: "tick" }, h("input", { type: "checkbox", name: "problems", value }), ` ${title}`),
      ),
    ),
    h("button", { type: "submit", class: "secondary" }, "退回"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(card, async () => {
      const data = new FormData(form);
      const body = { message: data.get("message"), problems: data.getAll("problems") };
      await api("POST", `/v1/review/applications/${id}/return`, body);
      leaving = id;
      redraw("#/review", "已退回申请人，申请人修改后可重新提交。");
    });
  });
  return form;
}

function historyCard(application) {
  const titles = Object.fromEntries(application.materials.map((m) => [m.material, m.title]));
  return h(
    "section",
    { class: "card", id: "history" },
    h("h2", {}, "办理记录"),
    h(
      "ol",
      { class: "steps" },
      application.history.map((step) =>
        h(
          "li",
          { dataset: { step: step.step } },
          h("span", { class: "muted" }, dateTime(step.at)),
          ` ${step.label}`,
          step.material && `：${titles[step.material] ?? step.material}`,
          step.reason && `：${REASONS[step.reason] ?? step.reason}`,
          step.period && `：${step.period} 批次`,
          step.message && h("div", { class: "said" }, `退回说明：${step.message}`),
          step.problems?.length > 0 &&
            h("div", { class: "muted" }, `需要修改：${step.problems.map((p) => (p === "reason" ? "补办原因" : (titles[p] ?? p))).join("、")}`),
          step.by && h("div", { class: "muted" }, `办理人账号 ${step.by.slice(0, 8)}`),
        ),
      ),
    ),
  );
}

// --- 发证窗口 ---------------------------------------------------------------------

// The booking just handed over shows as collected a moment later.
let handedOver = null;

route(
  "#/counter",
  async (main, params) => {
    heading(main, "发证窗口");
    const day = params.get("day") || today();
    const [{ bookings }, { windows }] = await Promise.all([
      settled(
        () => api("GET", `/v1/counter/bookings?day=${day}`),
        (answer) => !handedOver || answer.bookings.some((b) => b.booking_id === handedOver && b.state === "collected"),
        handedOver ? 16 : 0,
      ),
      api("GET", "/v1/pickup/windows?days=14"),
    ]);
    handedOver = null;
    main.append(dayPicker(day, windows));
    const waiting = bookings.filter((b) => b.state === "booked").length;
    main.append(h("p", { class: "muted", id: "counter-summary" }, `${day}：共 ${bookings.length} 个预约，待领取 ${waiting} 个。`));
    if (bookings.length === 0) {
      main.append(empty("这一天没有预约。"));
      return;
    }
    const list = h("div", { id: "bookings" }, bookings.map((b) => bookingCard(b, day)));
    main.append(finder(list), list);
  },
  { roles: COUNTER },
);

// Today, or one of the next pickup days (Tuesdays and Thursdays that are open).
function dayPicker(day, windows) {
  const days = [...new Set(windows.map((w) => w.starts_at.slice(0, 10)))].slice(0, 6);
  const form = h(
    "form",
    { class: "card", id: "counter-day" },
    field("发证日期", h("input", { type: "date", name: "day", id: "f-day", value: day, required: true })),
    h("button", { type: "submit" }, "查看预约"),
    days.length > 0 &&
      h(
        "div",
        { class: "row" },
        h("span", { class: "muted" }, "近期发证日："),
        days.map((d) => h("a", { class: "button secondary", href: `#/counter?day=${d}`, "aria-current": d === day && "date" }, d.slice(5))),
      ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    navigate(`#/counter?day=${form.elements.day.value}`);
  });
  return form;
}

// Finding a booking in the day's list, by what the person at the counter shows:
// the name, the last four of the ID number, or a certificate number. It stays on
// the page and never reaches the address.
function finder(list) {
  const input = h("input", { type: "search", id: "f-find", autocomplete: "off", placeholder: "姓名、证件号后四位或证书编号" });
  input.addEventListener("input", () => {
    const wanted = input.value.trim().toUpperCase();
    for (const card of list.children) card.hidden = wanted !== "" && !card.dataset.find.includes(wanted);
  });
  return h("div", { class: "card" }, field("查找预约", input));
}

function bookingCard(booking, day) {
  const card = h(
    "section",
    {
      class: "card booking",
      id: `booking-${booking.booking_id}`,
      dataset: {
        state: booking.state,
        find: [booking.holder_name, booking.holder_id_number_ends_with, ...booking.certificate_numbers].join(" ").toUpperCase(),
      },
    },
    h("h2", {}, `${clock(booking.starts_at)}–${clock(booking.ends_at)} `, h("span", { class: `state ${booking.state}` }, BOOKING_STATES[booking.state] ?? booking.state)),
    h("p", {}, `持证人：${booking.holder_name}（证件号后四位 ${booking.holder_id_number_ends_with}）`),
    h("p", {}, `证书：${booking.certificate_numbers.join("、")}`),
    booking.proxy_named &&
      h("p", { class: "proxy-named" }, `预先指定代领人：${booking.proxy_name}（证件号后四位 ${booking.proxy_id_number_ends_with}），代领须为此人。`),
    booking.collected_by && h("p", { class: "muted" }, booking.collected_by === "proxy" ? "已由代领人领取" : "已由本人领取"),
  );
  if (booking.state === "booked") card.append(handOverForm(card, booking, day));
  return card;
}

function handOverForm(card, booking, day) {
  const proxyPart = h(
    "fieldset",
    { class: "proxy-items", hidden: true },
    h("legend", {}, "代领须核验（规程第十三条）"),
    field("代领人姓名", h("input", { name: "proxy_name", id: `proxy-name-${booking.booking_id}`, autocomplete: "off", value: booking.proxy_name ?? "" })),
    field("代领人证件号码", h("input", { name: "proxy_id_number", id: `proxy-id-${booking.booking_id}`, autocomplete: "off", maxlength: 18 })),
    tick("proxy_document_checked", "已核验代领人身份证件"),
    field("委托书（上传编号或窗口登记编号）", h("input", { name: "authorisation", id: `authorisation-${booking.booking_id}`, autocomplete: "off" })),
  );
  const form = h(
    "form",
    { class: "hand-over" },
    h(
      "fieldset",
      { class: "ticks" },
      h("legend", {}, "领取人"),
      h("label", { class: "tick" }, h("input", { type: "radio", name: "collected_by", value: "holder", checked: true }), " 本人领取"),
      h("label", { class: "tick" }, h("input", { type: "radio", name: "collected_by", value: "proxy" }), " 代领"),
    ),
    tick("holder_document_checked", "已核验持证人身份证件"),
    proxyPart,
    h("button", { type: "submit" }, "确认发放"),
  );
  form.addEventListener("change", () => {
    proxyPart.hidden = form.elements.collected_by.value !== "proxy";
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    form.querySelectorAll(".missing").forEach((item) => item.classList.remove("missing"));
    attempt(card, async () => {
      try {
        await api("POST", `/v1/counter/bookings/${booking.booking_id}/hand-over`, handOverBody(form));
      } catch (error) {
        if (["proxy_items_missing", "identity_not_checked"].includes(error.code)) markMissing(form);
        throw error;
      }
      handedOver = booking.booking_id;
      redraw(`#/counter?day=${day}`, `已发放：${booking.certificate_numbers.join("、")}。`);
    });
  });
  return form;
}

function tick(name, label) {
  return h("label", { class: "tick", dataset: { item: name } }, h("input", { type: "checkbox", name }), ` ${label}`);
}

// Only what was entered: the API names every item still missing in one answer.
function handOverBody(form) {
  const items = form.elements;
  const body = { collected_by: items.collected_by.value, holder_document_checked: items.holder_document_checked.checked };
  if (body.collected_by === "holder") return body;
  return {
    ...body,
    proxy_name: items.proxy_name.value.trim(),
    proxy_id_number: items.proxy_id_number.value.trim(),
    proxy_document_checked: items.proxy_document_checked.checked,
    authorisation: items.authorisation.value.trim(),
  };
}

// The items the API refused for, marked where the clerk fills them in.
function markMissing(form) {
  const items = form.elements;
  const proxy = ["proxy_name", "proxy_id_number", "proxy_document_checked", "authorisation"];
  const needed = ["holder_document_checked", ...(items.collected_by.value === "proxy" ? proxy : [])];
  for (const name of needed) {
    const item = items[name];
    const given = item.type === "checkbox" ? item.checked : item.value.trim() !== "";
    if (!given) (item.closest("label.tick") ?? item.parentElement).classList.add("missing");
  }
}

// --- 证书邮寄 ---------------------------------------------------------------------

// The order just shipped leaves the list a moment later.
let shipped = null;

route(
  "#/shipping",
  async (main) => {
    heading(main, "证书邮寄");
    const gone = shipped;
    shipped = null;
    const { orders } = await settled(
      () => api("GET", "/v1/shipping/orders"),
      (answer) => !answer.orders.some((o) => o.order_id === gone),
      gone ? 16 : 0,
    );
    const overdue = orders.filter((o) => o.overdue).length;
    main.append(
      h("p", { class: "muted", id: "shipping-summary" }, `待寄出 ${orders.length} 件`, overdue ? `，${overdue} 件已逾期` : "", "。申请后 3 个工作日内寄出，邮费到付。"),
    );
    if (orders.length === 0) {
      main.append(empty("没有待寄出的邮寄申请。"));
      return;
    }
    main.append(h("div", { id: "orders" }, orders.map(orderCard)));
  },
  { roles: SHIPPING },
);

function orderCard(order) {
  const a = order.address;
  const card = h(
    "section",
    { class: `card order${order.overdue ? " late" : ""}`, id: `order-${order.order_id}`, dataset: { overdue: String(order.overdue) } },
    h(
      "h2",
      {},
      `最迟 ${order.ship_by} 寄出 `,
      h("span", { class: `state${order.overdue ? " overdue" : ""}`, dataset: { daysLeft: String(order.working_days_left) } }, daysLeft(order.working_days_left, order.overdue)),
    ),
    h("p", {}, `证书：${order.certificate_numbers.join("、")}`),
    h("p", {}, `收件人：${order.recipient} ${order.mobile}`),
    h("p", {}, `地址：${[a.province, a.city, a.district, a.street].join(" ")}`, a.postal_code ? `（邮编 ${a.postal_code}）` : ""),
    h("p", { class: "muted" }, `申请时间：${dateTime(order.requested_at)}`),
  );
  const form = h(
    "form",
    { class: "ship" },
    field("运单号", h("input", { name: "tracking_number", id: `tracking-${order.order_id}`, autocomplete: "off", required: true })),
    field("快递公司", h("input", { name: "carrier", id: `carrier-${order.order_id}`, value: "中国邮政 EMS", required: true })),
    h("button", { type: "submit" }, "登记寄出"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(card, async () => {
      const body = { tracking_number: form.elements.tracking_number.value.trim(), carrier: form.elements.carrier.value.trim() };
      await api("POST", `/v1/shipping/orders/${order.order_id}/ship`, body);
      shipped = order.order_id;
      redraw("#/shipping", `已登记寄出，运单号 ${body.tracking_number}。`);
    });
  });
  card.append(form);
  return card;
}

// --- 补发批次与数据同步 -----------------------------------------------------------

// The applications just synced leave the list a moment later.
let synced = [];

route(
  "#/reissue-batches",
  async (main, params) => {
    heading(main, "补发批次");
    if (hasRole(...ADMIN)) main.append(await batchCard(params.get("period") || thisMonth()));
    main.append(await syncCard());
  },
  { roles: SIGNERS },
);

async function batchCard(period) {
  const card = h("section", { class: "card", id: "batch" }, h("h2", {}, "月度批次（报送人力资源社会保障部）"));
  const form = h(
    "form",
    { class: "row" },
    field("批次月份", h("input", { type: "month", name: "period", id: "f-period", value: period, required: true })),
    h("button", { type: "submit", class: "secondary" }, "查看"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    navigate(`#/reissue-batches?period=${form.elements.period.value}`);
  });
  card.append(form);
  await attempt(card, async () => {
    const batch = await api("GET", `/v1/admin/reissue/batches/${period}`);
    card.append(batchFacts(batch), batchActions(card, batch));
  });
  return card;
}

function batchFacts(batch) {
  const rows = [
    ["批次", batch.period],
    ["状态", batch.state === "open" ? "未截止（继续接收审核通过的申请）" : "已截止，已报送部里"],
    ["截止日", `${batch.closes_on}（次日自动截止报送）`],
    ["申请数", String(batch.entries)],
    ["已到达", String(batch.arrived)],
    batch.unknown_certificate_numbers.length > 0 && ["部里到达但不在批次中", batch.unknown_certificate_numbers.join("、")],
  ].filter(Boolean);
  return h(
    "div",
    { class: "table-wrap" },
    h("table", { id: "batch-facts", dataset: { state: batch.state } }, rows.map(([label, value]) => h("tr", {}, h("th", { scope: "row" }, label), h("td", {}, value)))),
  );
}

function batchActions(card, batch) {
  if (batch.state === "closed") {
    return h("button", { type: "button", class: "secondary", onclick: () => exportBatch(card, batch.period) }, "导出 CSV（含身份证件号码）");
  }
  // Closing sends the batch to the ministry at once: the first press asks.
  const close = h("button", { type: "button", class: "secondary", id: "close-batch" }, "提前截止并报送");
  close.addEventListener("click", () => {
    if (close.dataset.confirm !== "yes") {
      close.dataset.confirm = "yes";
      close.textContent = `确认截止 ${batch.period} 批次（之后的审核通过编入下一批次）`;
      return;
    }
    attempt(card, async () => {
      await api("POST", `/v1/admin/reissue/batches/${batch.period}/close`);
      redraw(`#/reissue-batches?period=${batch.period}`, `${batch.period} 批次已截止并报送部里。`);
    });
  });
  return close;
}

// The CSV holds names and ID numbers: fetched with the token and handed over as a
// blob, never through an address.
async function exportBatch(card, period) {
  await attempt(card, async () => {
    const answer = await api("GET", `/v1/admin/reissue/batches/${period}/export`, undefined, { raw: true });
    const url = URL.createObjectURL(await answer.blob());
    const anchor = h("a", { href: url, download: `reissue-batch-${period}.csv` });
    document.body.append(anchor);
    anchor.click();
    anchor.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  });
}

async function syncCard() {
  const gone = synced;
  synced = [];
  const { certificates } = await settled(
    () => api("GET", "/v1/staff/reissue/syncs"),
    (answer) => !answer.certificates.some((c) => gone.includes(c.application_id)),
    gone.length ? 16 : 0,
  );
  const card = h(
    "section",
    { class: "card", id: "syncs" },
    h("h2", {}, "待同步的补发证书"),
    h("p", { class: "muted" }, "部里印制的证书到达后，5 个工作日内同步证书数据；同步后证书由中心保管，可预约领取或邮寄。"),
  );
  if (certificates.length === 0) {
    card.append(h("p", { class: "muted" }, "没有待同步的证书。"));
    return card;
  }
  const form = h(
    "form",
    {},
    table(
      ["", "同步期限", "证书编号", "持证人", "批次"],
      certificates.map((c) =>
        h(
          "tr",
          { class: c.overdue ? "overdue" : null, dataset: { application: c.application_id, overdue: String(c.overdue) } },
          h("td", {}, h("input", { type: "checkbox", name: "application_ids", value: c.application_id, "aria-label": `选择 ${c.certificate_number}` })),
          dueCell(c.sync_due, c.working_days_left, c.overdue),
          h("td", {}, c.certificate_number),
          h("td", {}, c.holder_name),
          h("td", {}, c.batch),
        ),
      ),
    ),
    h("button", { type: "submit" }, "登记已同步"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(card, async () => {
      const ids = new FormData(form).getAll("application_ids");
      const answer = await api("POST", "/v1/staff/reissue/syncs", { application_ids: ids });
      synced = ids;
      redraw("#/reissue-batches", `已同步：${answer.synced.join("、") || "无新同步"}。`);
    });
  });
  card.append(form);
  return card;
}

// --- 电子证书签章 -----------------------------------------------------------------

// The certificate just signed leaves the list a moment later.
let signed = null;

route(
  "#/ecerts",
  async (main) => {
    heading(main, "电子证书签章");
    const gone = signed;
    signed = null;
    const { certificates } = await settled(
      () => api("GET", "/v1/staff/ecerts/awaiting-signature"),
      (answer) => !answer.certificates.some((c) => c.certificate_number === gone),
      gone ? 16 : 0,
    );
    if (hasRole(...ADMIN)) main.append(await signerCard());
    main.append(h("p", { class: "muted" }, "行业主管部门签发后，中心在 3 个工作日内签章；签章后持证人即可下载。"));
    if (certificates.length === 0) {
      main.append(empty("没有待中心签章的电子证书。"));
      return;
    }
    const list = h("div", {});
    list.append(
      table(
        ["签章期限", "证书编号", "资格", "主管部门签发", ""],
        certificates.map((c) =>
          h(
            "tr",
            { class: c.overdue ? "overdue" : null, dataset: { certificate: c.certificate_number, overdue: String(c.overdue) } },
            dueCell(c.centre_sign_by, c.working_days_left, c.overdue),
            h("td", {}, c.certificate_number),
            h("td", {}, `${c.qualification_name} · ${c.level}`),
            h("td", {}, dateTime(c.authority_signed_at)),
            h("td", {}, h("button", { type: "button", onclick: () => sign(list, c.certificate_number) }, "签章")),
          ),
        ),
        { id: "awaiting-signature" },
      ),
    );
    main.append(list);
  },
  { roles: SIGNERS },
);

async function sign(where, number) {
  await attempt(where, async () => {
    await api("POST", `/v1/staff/ecerts/${encodeURIComponent(number)}/sign`);
    signed = number;
    redraw("#/ecerts", `证书 ${number} 已签章，持证人稍后即可下载。`);
  });
}

// Administrators choose whether the automatic signer signs for the centre.
async function signerCard() {
  const card = h("section", { class: "card", id: "automatic-signing" }, h("h2", {}, "自动签章"));
  await attempt(card, async () => {
    const { automatic } = await api("GET", "/v1/admin/ecert-signing");
    card.append(
      h("p", {}, automatic ? "已开启：系统每 5 秒为待签章证书签章。" : "未开启：由工作人员逐本签章。"),
      h(
        "button",
        {
          type: "button",
          class: "secondary",
          onclick: () =>
            attempt(card, async () => {
              await api("PUT", "/v1/admin/ecert-signing", { automatic: !automatic });
              redraw("#/ecerts", automatic ? "已关闭自动签章。" : "已开启自动签章。");
            }),
        },
        automatic ? "关闭自动签章" : "开启自动签章",
      ),
    );
  });
  return card;
}

// --- 办理期限 ---------------------------------------------------------------------

// Where a deadline's work is done, for the roles that do it.
const WORK = {
  review: (d) => hasRole(...REVIEWER) && `#/review?id=${d.subject_id}`,
  centre_signature: () => hasRole(...SIGNERS) && "#/ecerts",
  mail_shipment: () => hasRole(...SHIPPING) && "#/shipping",
  reissue_sync: () => hasRole(...SIGNERS) && "#/reissue-batches",
};

route(
  "#/deadlines",
  async (main, params) => {
    heading(main, "办理期限");
    const kind = DEADLINE_KINDS[params.get("kind")] ? params.get("kind") : "";
    const select = h(
      "select",
      { name: "kind", id: "f-kind" },
      h("option", { value: "" }, "全部事项"),
      Object.entries(DEADLINE_KINDS).map(([value, label]) => h("option", { value, selected: value === kind }, label)),
    );
    select.addEventListener("change", () => navigate(select.value ? `#/deadlines?kind=${select.value}` : "#/deadlines"));
    const answer = await api("GET", `/v1/staff/deadlines${kind ? `?kind=${kind}` : ""}`);
    const overdue = answer.deadlines.filter((d) => d.overdue).length;
    main.append(
      h("div", { class: "card" }, field("事项", select)),
      h("p", { class: "muted", id: "deadline-summary" }, `今天 ${answer.today}：未办结 ${answer.deadlines.length} 项`, overdue ? `，${overdue} 项已逾期` : "", "。"),
    );
    if (answer.deadlines.length === 0) {
      main.append(empty("没有未办结的期限。"));
      return;
    }
    main.append(
      table(
        ["期限", "事项", "对象", "开始", ""],
        answer.deadlines.map((d) => {
          const work = WORK[d.kind]?.(d);
          return h(
            "tr",
            { class: d.overdue ? "overdue" : null, dataset: { kind: d.kind, subject: d.subject_id, overdue: String(d.overdue) } },
            dueCell(d.due_on, d.working_days_left, d.overdue),
            h("td", {}, d.label, h("div", { class: "muted" }, `${d.working_days} 个工作日内`), d.flagged && h("div", { class: "said" }, "已发逾期提醒")),
            h("td", {}, d.reference),
            h("td", {}, dateTime(d.started_at)),
            h("td", {}, work && h("a", { class: "button secondary", href: work }, "去办理")),
          );
        }),
        { id: "deadlines" },
      ),
    );
  },
  { roles: STAFF },
);

// --- 工作消息 ---------------------------------------------------------------------

route(
  "#/staff/inbox",
  async (main) => {
    const { notices } = await api("GET", "/v1/staff/notices");
    const unread = notices.filter((n) => !n.read).length;
    heading(main, unread ? `工作消息（${unread} 条未读）` : "工作消息");
    main.append(
      h("p", { class: "muted" }, "发给本岗位的消息：一人标为已读，同岗位的人都看到已读。"),
      h("div", { id: "staff-notices" }, notices.length === 0 && empty("还没有消息。"), notices.map((notice) => noticeCard(notice, STAFF_INBOX))),
    );
  },
  { roles: STAFF },
);
