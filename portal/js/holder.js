// Pages for holders: certificates, pickup, mail, reissue, downloads, inbox.
// Addresses carry at most an application's, a booking's or a mail order's id; the
// certificate chosen on one page reaches the next in memory, never in the address.

import { ApiError, api } from "./api.js";
import { HOLDER_INBOX, attempt, dateTime, field, guide, h, heading, menuItem, navigate, noticeCard, okBox, pause, redraw, route, settled, values } from "./app.js";

const HOLDER = ["applicant"];

menuItem("我的证书", "#/certificates", HOLDER);
menuItem("预约领取", "#/pickup", HOLDER);
menuItem("邮寄", "#/mail", HOLDER);
menuItem("证书补办", "#/reissue", HOLDER);
menuItem("消息", "#/inbox", HOLDER);

const REASONS = { lost: "遗失", damaged: "损毁", custody_expired: "超过保管期未领取" };
const BOOKING_STATES = { booked: "已预约", cancelled: "已取消", lapsed: "未到场，已失效", collected: "已领取" };
const WEEKDAYS = "日一二三四五六";

// The certificate a holder picked on "我的证书", for the page it leads to.
let chosen = null;
// DOM append() would show false or null as text; h() already leaves them out.
const present = (...nodes) => nodes.filter(Boolean);

function day(iso) {
  const [year, month, date] = iso.slice(0, 10).split("-").map(Number);
  const weekday = new Date(Date.UTC(year, month - 1, date)).getUTCDay();
  return `${month}月${date}日 周${WEEKDAYS[weekday]}`;
}

const clock = (iso) => iso.slice(11, 16);
const windowText = (w) => `${day(w.starts_at)} ${clock(w.starts_at)}–${clock(w.ends_at)}`;
const qualificationText = (q) => [q.name, q.level, q.specialty].filter(Boolean).join(" · ");

function link(label, hash, secondary = true) {
  return h("a", { class: secondary ? "button secondary" : "button", href: hash }, label);
}

// --- 实名认证 ---------------------------------------------------------------------

route(
  "#/real-name",
  async (main) => {
    heading(main, "实名认证");
    const me = await api("GET", "/v1/me");
    if (me.real_name_verified) {
      main.append(okBox("您已完成实名认证。"), link("查看我的证书", "#/certificates", false));
      return;
    }
    const form = h(
      "form",
      { class: "card", id: "real-name" },
      h("p", { class: "muted" }, "请填写与身份证件一致的姓名和证件号码（居民身份证，或港澳台居民居住证）。认证后即可查看您名下的证书。"),
      field("姓名", h("input", { name: "name", autocomplete: "off", required: true })),
      field("证件号码", h("input", { name: "id_number", autocomplete: "off", maxlength: 18, required: true })),
      h("button", { type: "submit" }, "提交认证"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      attempt(form, async () => {
        await api("POST", "/v1/me/real-name", values(form));
        redraw("#/certificates", "实名认证成功。");
      });
    });
    main.append(form);
  },
  { roles: HOLDER },
);

// --- 我的证书 ---------------------------------------------------------------------

// Just after verification the certificates service learns of it within seconds
// (`real_name_required` until then); an unverified account is sent to verify.
async function myCertificates(main) {
  for (let tries = 0; ; tries += 1) {
    try {
      return await api("GET", "/v1/me/certificates");
    } catch (error) {
      if (error.code !== "real_name_required" || tries >= 12) throw error;
      if (tries === 0 && !(await api("GET", "/v1/me")).real_name_verified) {
        main.append(h("p", {}, "请先完成实名认证，再查看您名下的证书。"), link("去实名认证", "#/real-name", false));
        return null;
      }
      await pause(1000);
    }
  }
}

route(
  "#/certificates",
  async (main) => {
    heading(main, "我的证书");
    const answer = await myCertificates(main);
    if (!answer) return;
    const [{ bookings }, { mail_orders: orders }] = await Promise.all([
      api("GET", "/v1/me/bookings"),
      api("GET", "/v1/me/mail-orders"),
    ]);
    const list = h("div", { id: "certificates" });
    if (answer.certificates.length === 0) list.append(h("p", { class: "card muted" }, answer.notice));
    for (const certificate of answer.certificates) {
      list.append(certificateCard(certificate, { bookings, orders }));
    }
    main.append(list);
  },
  { roles: HOLDER },
);

function certificateCard(certificate, claims) {
  const card = h(
    "section",
    { class: "card certificate", dataset: { certificate: certificate.certificate_number, state: certificate.state } },
    h("h2", {}, qualificationText(certificate.qualification)),
    h(
      "p",
      {},
      h("span", { class: `state ${certificate.state}` }, certificate.state_label),
      certificate.reissued && h("span", { class: "state" }, "补发"),
    ),
    h("p", { class: "muted" }, `证书编号 ${certificate.certificate_number} · 考试结束 ${certificate.exam_end_date}`),
    certificate.notice && h("p", { class: "notice-text" }, certificate.notice),
  );
  const dates = deadlines(certificate);
  if (dates.length) card.append(h("ul", { class: "deadlines" }, dates.map((line) => h("li", {}, line))));
  if (certificate.reissue) card.append(reissueLine(certificate.reissue));
  card.append(actions(card, certificate, claims));
  return card;
}

function deadlines(certificate) {
  const { booking, mail, ecert, reissue } = certificate;
  return [
    certificate.custody_until &&
      ["in_custody", "booked", "mail_requested"].includes(certificate.state) &&
      `中心保管至 ${certificate.custody_until}`,
    certificate.state === "custody_expired" && `保管期已于 ${certificate.custody_until} 结束`,
    booking && `预约领取时间：${windowText(booking)}`,
    mail && !mail.tracking_number && `中心最迟于 ${mail.ship_by} 寄出`,
    mail?.tracking_number && `运单号：${mail.tracking_number}`,
    ecert?.centre_sign_by && `中心最迟于 ${ecert.centre_sign_by} 签章`,
    reissue?.review_due && `补办申请最迟于 ${reissue.review_due} 审核`,
    reissue?.sync_due && `补发证书数据最迟于 ${reissue.sync_due} 同步`,
    reissue?.batch && `补发批次：${reissue.batch}`,
  ].filter(Boolean);
}

function reissueLine(reissue) {
  return h(
    "div",
    { class: "reissue-line", dataset: { reissueState: reissue.state } },
    h("p", {}, "补办申请：", h("span", { class: `state ${reissue.state}` }, reissue.state_label)),
    reissue.message && h("p", { class: "reviewer-message" }, `审核意见：${reissue.message}`),
    reissue.notice && h("p", { class: "muted" }, reissue.notice),
  );
}

function actions(card, certificate, { bookings, orders }) {
  const number = certificate.certificate_number;
  const booking = bookings.find((b) => b.state === "booked" && b.certificate_numbers.includes(number));
  const order = orders.find((o) => !o.tracking_number && o.certificate_numbers.includes(number));
  const atBooking = (action) => (booking ? `#/pickup?booking=${booking.booking_id}&action=${action}` : "#/pickup");
  const choose = (hash) => (event) => {
    event.preventDefault();
    chosen = number;
    navigate(hash);
  };
  const made = {
    book_pickup: () => h("a", { class: "button", href: "#/pickup", onclick: choose("#/pickup") }, "预约现场领取"),
    request_mail: () => h("a", { class: "button secondary", href: "#/mail", onclick: choose("#/mail") }, "申请邮寄"),
    move_booking: () => link("改约", atBooking("move")),
    cancel_booking: () => link("取消预约", atBooking("cancel")),
    name_proxy: () => link("指定代领人", atBooking("proxy")),
    edit_mail_request: () => link("修改邮寄信息", order ? `#/mail?order=${order.order_id}` : "#/mail"),
    apply_for_reissue: () =>
      h("a", { class: "button", href: "#/reissue/new", onclick: choose("#/reissue/new") }, "申请补办"),
    view_reissue: () => link("查看补办申请", `#/reissue?id=${certificate.reissue.application_id}`),
    download_ecert: () => h("button", { type: "button", onclick: () => downloadEcert(card, certificate) }, "下载电子证书"),
    wait: () => h("p", { class: "muted wait" }, waitText(certificate)),
  };
  return h(
    "div",
    { class: "row actions" },
    certificate.next_actions.map((action) => made[action]?.()),
  );
}

function waitText(certificate) {
  if (certificate.ecert?.centre_sign_by) return `请等待中心签章，最迟 ${certificate.ecert.centre_sign_by}。`;
  if (certificate.state === "awaiting_health_commission") return "请等待卫生健康委员会签发，签发后即可下载。";
  return "请等待行业主管部门签发，签发后中心在 3 个工作日内签章。";
}

// The PDF comes with the access token, so it is fetched here and handed to the
// browser as a blob: the token never appears in an address.
async function downloadEcert(card, certificate) {
  await attempt(card, async () => {
    const answer = await api("GET", certificate.ecert.download, undefined, { raw: true });
    const url = URL.createObjectURL(await answer.blob());
    const anchor = h("a", { href: url, download: `ecert-${certificate.certificate_number}.pdf` });
    document.body.append(anchor);
    anchor.click();
    anchor.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  });
}

// --- 预约现场领取 -----------------------------------------------------------------

route(
  "#/pickup",
  async (main, params) => {
    heading(main, "预约现场领取");
    const [g, { certificates }, { bookings }, { windows }] = await Promise.all([
      guide(),
      api("GET", "/v1/me/certificates"),
      api("GET", "/v1/me/bookings"),
      api("GET", "/v1/pickup/windows?days=30"),
    ]);
    main.append(
      h("p", { class: "muted" }, `领取日：${g.pickup.days}。${g.pickup.bring}`),
      bookingList(bookings, params),
      calendar(certificates, bookings, bookable(windows), params),
    );
  },
  { roles: HOLDER },
);

// Only Tuesday and Thursday windows with a seat left can be booked.
function bookable(windows) {
  return windows.filter((w) => w.seats_left > 0 && [2, 4].includes(new Date(w.starts_at.slice(0, 10)).getUTCDay()));
}

function bookingList(bookings, params) {
  const active = bookings.filter((b) => b.state === "booked");
  const past = bookings.filter((b) => b.state !== "booked");
  return h(
    "section",
    { id: "bookings" },
    h("h2", {}, "我的预约"),
    active.length === 0 && h("p", { class: "muted" }, "目前没有有效的预约。"),
    active.map((booking) => bookingCard(booking, params)),
    past.length > 0 &&
      h(
        "details",
        {},
        h("summary", {}, "以往预约"),
        h(
          "ul",
          {},
          past.map((b) => h("li", { dataset: { bookingState: b.state } }, `${windowText(b)}：${BOOKING_STATES[b.state]}`)),
        ),
      ),
  );
}

function bookingCard(booking, params) {
  const focused = params.get("booking") === booking.booking_id;
  const card = h(
    "div",
    { class: "card booking", id: `booking-${booking.booking_id}`, dataset: { startsAt: booking.starts_at } },
    h("p", {}, h("strong", {}, windowText(booking))),
    h("p", { class: "muted" }, `证书：${booking.certificate_numbers.join("，")}`),
    h("p", { class: "muted" }, booking.proxy_named ? "已指定代领人：代领人须携带双方身份证件和委托书。" : "本人领取，或由携带双方身份证件和委托书的代领人领取。"),
  );
  const proxy = proxyForm(card, booking);
  proxy.hidden = !(focused && params.get("action") === "proxy");
  card.append(
    h(
      "div",
      { class: "row" },
      h("a", { class: "button secondary", href: `#/pickup?booking=${booking.booking_id}&action=move` }, "改约"),
      h("button", { type: "button", class: "secondary", onclick: () => cancelBooking(card, booking) }, "取消预约"),
      h("button", { type: "button", class: "secondary", onclick: () => (proxy.hidden = !proxy.hidden) }, "指定代领人"),
    ),
    proxy,
  );
  if (focused) queueMicrotask(() => card.scrollIntoView({ block: "center" }));
  return card;
}

async function cancelBooking(card, booking) {
  await attempt(card, async () => {
    await api("POST", `/v1/bookings/${booking.booking_id}/cancel`);
    await settled(myBooking(booking.booking_id), (b) => b?.state !== "booked");
    redraw("#/pickup", `已取消 ${windowText(booking)} 的预约。`);
  });
}

function myBooking(bookingId) {
  return async () => (await api("GET", "/v1/me/bookings")).bookings.find((b) => b.booking_id === bookingId);
}

function proxyForm(card, booking) {
  const form = h(
    "form",
    { class: "proxy" },
    field("代领人姓名", h("input", { id: `proxy-name-${booking.booking_id}`, name: "name", autocomplete: "off", required: true })),
    field(
      "代领人证件号码",
      h("input", { id: `proxy-id-${booking.booking_id}`, name: "id_number", autocomplete: "off", maxlength: 18, required: true }),
    ),
    h("p", { class: "muted" }, "指定后，只有该证件号码的代领人可以代领。"),
    h("button", { type: "submit" }, "保存代领人"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(card, async () => {
      await api("PUT", `/v1/bookings/${booking.booking_id}/proxy`, values(form));
      await settled(myBooking(booking.booking_id), (b) => b?.proxy_named);
      redraw(`#/pickup?booking=${booking.booking_id}`, "已指定代领人。");
    });
  });
  return form;
}

function calendar(certificates, bookings, windows, params) {
  const moving = params.get("action") === "move" && bookings.find((b) => b.booking_id === params.get("booking") && b.state === "booked");
  const claimable = certificates.filter((c) => c.next_actions.includes("book_pickup"));
  const section = h("section", { class: "card", id: "windows" });
  if (moving) {
    section.append(
      h("h2", {}, "改约到新的时间"),
      h("p", {}, `当前预约：${windowText(moving)}`),
      link("不改约了", "#/pickup"),
    );
  } else if (claimable.length) {
    section.append(h("h2", {}, "选择领取时间"), certificateChoice(claimable, "pickup"));
  } else {
    section.append(h("h2", {}, "选择领取时间"), h("p", { class: "muted" }, "没有待领取的证书。"));
    return section;
  }
  if (windows.length === 0) {
    section.append(h("p", { class: "muted" }, "未来 30 天内暂无可预约的时间，请以后再来。"));
    return section;
  }
  const byDay = new Map();
  for (const w of windows) byDay.set(w.starts_at.slice(0, 10), [...(byDay.get(w.starts_at.slice(0, 10)) ?? []), w]);
  const slots = h("div", { class: "calendar", id: "slots" });
  const days = h("div", { class: "days", role: "group", "aria-label": "领取日" });
  const show = (date) => {
    days.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.day === date)));
    slots.replaceChildren(
      ...byDay.get(date).map((w) =>
        h(
          "button",
          { type: "button", class: "secondary", dataset: { startsAt: w.starts_at }, onclick: () => pick(section, w, moving) },
          `${clock(w.starts_at)}–${clock(w.ends_at)}`,
          h("small", {}, ` 余 ${w.seats_left} 位`),
        ),
      ),
    );
  };
  for (const date of byDay.keys()) {
    days.append(h("button", { type: "button", class: "secondary", dataset: { day: date }, onclick: () => show(date) }, day(date)));
  }
  section.append(days, slots);
  show(byDay.keys().next().value);
  return section;
}

function certificateChoice(certificates, name) {
  return h(
    "fieldset",
    { class: "choice" },
    h("legend", {}, "证书"),
    certificates.map((c) =>
      h(
        "label",
        { class: "check" },
        h("input", {
          type: "checkbox",
          name,
          value: c.certificate_number,
          checked: !chosen || chosen === c.certificate_number,
        }),
        ` ${qualificationText(c.qualification)}（${c.certificate_number}）`,
      ),
    ),
  );
}

function checked(section, name) {
  return [...section.querySelectorAll(`input[name="${name}"]:checked`)].map((input) => input.value);
}

async function pick(section, w, moving) {
  await attempt(section, async () => {
    if (moving) {
      await api("POST", `/v1/bookings/${moving.booking_id}/move`, { starts_at: w.starts_at });
      await settled(myBooking(moving.booking_id), (b) => b?.starts_at === w.starts_at);
      redraw("#/pickup", `已改约到 ${windowText(w)}。`);
      return;
    }
    const numbers = checked(section, "pickup");
    if (numbers.length === 0) throw new ApiError(400, "nothing_chosen", "请至少选择一本证书。");
    const { booking_id: bookingId } = await api("POST", "/v1/bookings", { certificate_numbers: numbers, starts_at: w.starts_at });
    chosen = null;
    await settled(myBooking(bookingId), Boolean);
    redraw("#/pickup", `已预约 ${windowText(w)} 现场领取。请携带本人身份证件按时到发证窗口领取。`);
  });
}

// --- 邮寄 -------------------------------------------------------------------------

route(
  "#/mail",
  async (main, params) => {
    heading(main, "邮寄证书");
    const [terms, { certificates }, { mail_orders: orders }] = await Promise.all([
      api("GET", "/v1/mail/terms"),
      api("GET", "/v1/me/certificates"),
      api("GET", "/v1/me/mail-orders"),
    ]);
    main.append(h("div", { class: "message notice-box", id: "postage" }, terms.postage_notice));
    const editing = orders.find((o) => o.order_id === params.get("order") && !o.tracking_number);
    if (editing) {
      main.append(mailForm({ order: editing }));
    } else {
      const claimable = certificates.filter((c) => c.next_actions.includes("request_mail"));
      if (claimable.length) main.append(mailForm({ claimable }));
    }
    main.append(
      h("h2", {}, "我的邮寄申请"),
      h("div", { id: "mail-orders" }, orders.length ? orders.map(orderCard) : h("p", { class: "muted" }, "还没有邮寄申请。")),
    );
  },
  { roles: HOLDER },
);

function orderState(order) {
  if (order.delivered) return ["delivered", "已送达"];
  if (order.tracking_number) return ["shipped", `已寄出：${order.carrier ?? ""} 运单号 ${order.tracking_number}`];
  if (order.overdue) return ["overdue", `已超过承诺寄出日期 ${order.ship_by}，请联系中心`];
  return ["waiting", `待寄出，中心最迟于 ${order.ship_by} 寄出`];
}

function addressText(a) {
  return [a.province, a.city, a.district, a.street, a.postal_code && `（${a.postal_code}）`].filter(Boolean).join(" ");
}

function orderCard(order) {
  const [state, label] = orderState(order);
  return h(
    "div",
    { class: "card order", dataset: { state } },
    h("p", {}, h("span", { class: `state ${state}` }, label)),
    h("p", { class: "muted" }, `证书：${order.certificate_numbers.join("，")}`),
    h("p", {}, `${order.recipient} ${order.mobile}`, h("br"), addressText(order.address)),
    !order.tracking_number && link("修改邮寄信息", `#/mail?order=${order.order_id}`),
  );
}

function mailForm({ order = null, claimable = [] }) {
  const given = order ?? { recipient: "", mobile: "", address: {} };
  const input = (name, value, props = {}) => h("input", { id: `mail-${name}`, name, value: value ?? "", required: true, ...props });
  const form = h(
    "form",
    { class: "card", id: "mail" },
    h("h2", {}, order ? "修改邮寄信息" : "申请邮寄"),
    !order && certificateChoice(claimable, "mail"),
    field("收件人", input("recipient", given.recipient, { autocomplete: "name" })),
    field("收件人手机号码", input("mobile", given.mobile, { inputmode: "numeric", pattern: "1[3-9][0-9]{9}", autocomplete: "tel" })),
    field("省（自治区）", input("province", given.address.province ?? "新疆维吾尔自治区")),
    field("市（地区、自治州）", input("city", given.address.city)),
    field("区（县）", input("district", given.address.district)),
    field("街道、门牌、楼栋和房号", input("street", given.address.street, { autocomplete: "street-address" })),
    field("邮政编码（可不填）", input("postal_code", given.address.postal_code, { required: false, inputmode: "numeric", pattern: "[0-9]{6}" })),
    !order && h("label", { class: "check" }, h("input", { type: "checkbox", name: "agree", required: true }), " 我已知晓邮费由本人承担（到付）"),
    h("button", { type: "submit" }, order ? "保存修改" : "提交邮寄申请"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(form, () => (order ? editOrder(form, order) : requestMail(form)));
  });
  return form;
}

function delivery(form) {
  const { recipient, mobile, province, city, district, street, postal_code: postalCode } = values(form);
  const address = { province, city, district, street };
  if (postalCode) address.postal_code = postalCode;
  return { recipient, mobile, address };
}

async function requestMail(form) {
  const numbers = checked(form, "mail");
  if (numbers.length === 0) throw new ApiError(400, "nothing_chosen", "请至少选择一本证书。");
  const answer = await api("POST", "/v1/mail-orders", { certificate_numbers: numbers, ...delivery(form) });
  chosen = null;
  await settled(myOrders, (orders) => orders.some((o) => o.order_id === answer.order_id));
  redraw("#/mail", `邮寄申请已提交，中心最迟于 ${answer.ship_by} 寄出。${answer.postage_notice}`);
}

async function editOrder(form, order) {
  await api("PUT", `/v1/mail-orders/${order.order_id}`, delivery(form));
  redraw("#/mail", "邮寄信息已修改。");
}

async function myOrders() {
  return (await api("GET", "/v1/me/mail-orders")).mail_orders;
}

// --- 证书补办 ---------------------------------------------------------------------

let termsCache;
function reissueTerms() {
  termsCache ??= api("GET", "/v1/reissue/terms");
  return termsCache;
}

route(
  "#/reissue",
  async (main, params) => {
    if (params.get("id")) return applicationPage(main, params.get("id"));
    heading(main, "证书补办");
    const [terms, { applications }] = await Promise.all([reissueTerms(), api("GET", "/v1/me/reissue/applications")]);
    main.append(
      termsCard(terms),
      link("申请补办", "#/reissue/new", false),
      h("h2", {}, "我的补办申请"),
      h(
        "div",
        { id: "applications" },
        applications.length === 0 && h("p", { class: "muted" }, "还没有补办申请。"),
        applications.map((a) =>
          h(
            "div",
            { class: "card application", dataset: { state: a.state } },
            h("p", {}, h("strong", {}, `${a.qualification.name} · ${a.qualification.level}`), ` ${a.certificate_number}`),
            h("p", {}, h("span", { class: `state ${a.state}` }, a.state_label), ` 补办原因：${REASONS[a.reason] ?? a.reason}`),
            a.message && h("p", { class: "reviewer-message" }, `审核意见：${a.message}`),
            a.review_due && h("p", { class: "muted" }, `中心最迟于 ${a.review_due} 审核`),
            link(["draft", "returned"].includes(a.state) ? "修改并提交" : "查看", `#/reissue?id=${a.application_id}`),
          ),
        ),
      ),
    );
  },
  { roles: HOLDER },
);

function termsCard(terms) {
  return h(
    "section",
    { class: "card" },
    h("h2", {}, "补办须知"),
    h("ul", {}, terms.materials.map((m) => h("li", {}, `${m.title}（${m.required ? "必要" : "非必要"}）：${m.accepted}，不超过 ${m.max_bytes / 1048576} MB`))),
    h("p", { class: "muted" }, `提交后 ${terms.review_within_working_days} 个工作日内审核并在线反馈。${terms.national_expected_wait}`),
  );
}

route(
  "#/reissue/new",
  async (main) => {
    heading(main, "申请补办");
    const [terms, { certificates }] = await Promise.all([reissueTerms(), api("GET", "/v1/me/certificates")]);
    const eligible = certificates.filter((c) => c.next_actions.includes("apply_for_reissue"));
    if (eligible.length === 0) {
      main.append(h("p", { class: "card muted" }, "您名下没有可以申请补办的证书。中心仍保管的证书请预约领取或申请邮寄；已制发电子证书的不再补发纸质证书。"));
      return;
    }
    const form = h(
      "form",
      { class: "card", id: "reissue-start" },
      field(
        "证书",
        h(
          "select",
          { name: "certificate_number", required: true },
          eligible.map((c) =>
            h("option", { value: c.certificate_number, selected: chosen === c.certificate_number }, `${qualificationText(c.qualification)}（${c.certificate_number}）`),
          ),
        ),
      ),
      field("补办原因", reasonSelect(terms.reasons, likelyReason(eligible))),
      h("button", { type: "submit" }, "创建申请"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      attempt(form, async () => {
        const application = await api("POST", "/v1/reissue/applications", values(form));
        chosen = null;
        redraw(`#/reissue?id=${application.application_id}`, "申请已创建（草稿），请上传材料后提交审核。");
      });
    });
    main.append(form, termsCard(terms));
  },
  { roles: HOLDER },
);

// A certificate left unclaimed too long is reissued for that reason; others were
// claimed, so lost is the likelier reason.
function likelyReason(eligible) {
  const certificate = eligible.find((c) => c.certificate_number === chosen) ?? eligible[0];
  return certificate.state === "custody_expired" ? "custody_expired" : "lost";
}

function reasonSelect(reasons, selected) {
  return h(
    "select",
    { name: "reason", id: "f-reason", required: true },
    reasons.map((r) => h("option", { value: r, selected: r === selected }, REASONS[r] ?? r)),
  );
}

async function applicationPage(main, id) {
  const [terms, application] = await Promise.all([reissueTerms(), api("GET", `/v1/reissue/applications/${id}`)]);
  heading(main, "补办申请");
  const editable = ["draft", "returned"].includes(application.state);
  const returned = application.state === "returned" ? lastReturn(application.history) : null;
  const problems = new Set(returned?.problems ?? []);
  main.append(
    ...present(
      h(
        "section",
        { class: "card", id: "application", dataset: { state: application.state } },
        h("p", {}, h("strong", {}, `${application.qualification.name} · ${application.qualification.level}`), ` ${application.certificate_number}`),
        h("p", {}, "状态：", h("span", { class: `state ${application.state}`, id: "application-state" }, application.state_label)),
        application.notice && h("p", {}, application.notice),
        application.review_due && h("p", { class: "muted" }, `中心最迟于 ${application.review_due} 审核`),
        application.sync_due && h("p", { class: "muted" }, `补发证书数据最迟于 ${application.sync_due} 同步`),
      ),
      returned && reviewerMessage(returned, terms),
      reasonCard(application, terms, editable, problems.has("reason")),
      h("h2", {}, "补办材料"),
      h("div", { id: "materials" }, application.materials.map((m) => materialCard(application, m, terms, editable, problems.has(m.material)))),
      (editable || application.state === "submitted") && submitCard(application, editable),
      historyCard(application.history, terms),
    ),
  );
}

function lastReturn(history) {
  return [...history].reverse().find((step) => step.step === "Returned") ?? null;
}

function titleOf(terms, material) {
  return material === "reason" ? "补办原因" : (terms.materials.find((m) => m.material === material)?.title ?? material);
}

function reviewerMessage(returned, terms) {
  return h(
    "section",
    { class: "card review-message", id: "review-message", role: "note" },
    h("h2", {}, "审核意见"),
    h("p", {}, returned.message),
    returned.problems?.length > 0 && h("p", {}, `需要修改：${returned.problems.map((p) => titleOf(terms, p)).join("、")}`),
    h("p", { class: "muted" }, `退回时间：${dateTime(returned.at)}`),
  );
}

function reasonCard(application, terms, editable, problem) {
  const card = h("section", { class: `card${problem ? " problem" : ""}`, id: "reason", dataset: problem ? { problem: "yes" } : {} });
  card.append(...present(h("h2", {}, "补办原因"), problem && h("p", { class: "problem-note" }, "审核意见要求修改此项")));
  if (!editable) {
    card.append(h("p", {}, REASONS[application.reason] ?? application.reason));
    return card;
  }
  const form = h(
    "form",
    {},
    field("补办原因", reasonSelect(terms.reasons, application.reason)),
    h("button", { type: "submit", class: "secondary" }, "保存草稿"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(card, async () => {
      await api("PUT", `/v1/reissue/applications/${application.application_id}/reason`, values(form));
      redraw(`#/reissue?id=${application.application_id}`, "草稿已保存。");
    });
  });
  card.append(form);
  return card;
}

function materialCard(application, material, terms, editable, problem) {
  const rule = terms.materials.find((m) => m.material === material.material);
  const card = h(
    "div",
    {
      class: `card material${problem ? " problem" : ""}`,
      id: `material-${material.material}`,
      dataset: { uploaded: String(material.uploaded), ...(problem && { problem: "yes" }) },
    },
    h("p", {}, h("strong", {}, material.title), material.required ? "（必要）" : "（非必要）"),
    problem && h("p", { class: "problem-note" }, "审核意见要求修改此项，请重新上传"),
    h("p", { class: "muted" }, material.uploaded ? `已上传（${typeName(material.content_type)}，${kb(material.size)}）` : "未上传"),
    rule && h("p", { class: "muted" }, `${rule.accepted}，不超过 ${rule.max_bytes / 1048576} MB`),
  );
  if (!editable) return card;
  const path = `/v1/reissue/applications/${application.application_id}/materials/${material.material}`;
  const input = h("input", {
    type: "file",
    id: `file-${material.material}`,
    accept: material.material === "photo" ? "image/jpeg,image/png" : "application/pdf,image/jpeg,image/png",
  });
  input.addEventListener("change", () => {
    const file = input.files[0];
    if (!file) return;
    attempt(card, async () => {
      await checkMaterial(material.material, file, rule);
      await api("PUT", path, file);
      redraw(`#/reissue?id=${application.application_id}`, `${material.title}已上传。`);
    }).finally(() => (input.value = ""));
  });
  card.append(field(material.uploaded ? "更换文件" : "选择文件", input));
  if (material.uploaded) {
    card.append(
      h(
        "button",
        {
          type: "button",
          class: "secondary",
          onclick: () =>
            attempt(card, async () => {
              await api("DELETE", path);
              redraw(`#/reissue?id=${application.application_id}`, `${material.title}已删除。`);
            }),
        },
        "删除",
      ),
    );
  }
  return card;
}

const typeName = (type) => ({ "image/jpeg": "JPG 图片", "image/png": "PNG 图片", "application/pdf": "PDF" })[type] ?? type;
const kb = (size) => `${Math.max(1, Math.round(size / 1024))} KB`;

function submitCard(application, editable) {
  const card = h("section", { class: "card", id: "submit" });
  const id = application.application_id;
  if (editable) {
    card.append(
      h(
        "button",
        {
          type: "button",
          onclick: () =>
            attempt(card, async () => {
              const answer = await api("POST", `/v1/reissue/applications/${id}/submit`);
              redraw(`#/reissue?id=${id}`, `已提交审核，中心最迟于 ${answer.review_due} 审核并在线反馈。`);
            }),
        },
        application.state === "returned" ? "重新提交审核" : "提交审核",
      ),
    );
  }
  // Withdrawing cannot be undone: the first press asks, the second withdraws.
  const withdraw = h("button", { type: "button", class: "secondary", id: "withdraw" }, "撤回申请");
  withdraw.addEventListener("click", () => {
    if (withdraw.dataset.confirm !== "yes") {
      withdraw.dataset.confirm = "yes";
      withdraw.textContent = "确认撤回（撤回后需重新申请）";
      return;
    }
    attempt(card, async () => {
      await api("POST", `/v1/reissue/applications/${id}/withdraw`);
      redraw(`#/reissue?id=${id}`, "申请已撤回。");
    });
  });
  card.append(withdraw);
  return card;
}

function historyCard(history, terms) {
  return h(
    "section",
    { class: "card", id: "history" },
    h("h2", {}, "办理记录"),
    h(
      "ol",
      { class: "history" },
      history.map((step) =>
        h(
          "li",
          { dataset: { step: step.step } },
          h("span", { class: "muted" }, dateTime(step.at)),
          ` ${step.label}`,
          step.material && `：${titleOf(terms, step.material)}`,
          step.message && h("div", { class: "reviewer-message" }, `审核意见：${step.message}`),
        ),
      ),
    ),
  );
}

// --- Checking a file before it is sent ---------------------------------------------
// The same limits as the reissue service applies (services/reissue/materials.py), so
// a file it would refuse is refused here with its reason, before any upload.

const SIGNATURES = [
  ["image/jpeg", [0xff, 0xd8, 0xff]],
  ["image/png", [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
  ["application/pdf", [0x25, 0x50, 0x44, 0x46, 0x2d]],
];
const PHOTO = {
  standard: [295, 413],
  largest: [1180, 1652],
  ratioTolerance: 0.03,
  band: 0.05,
  sideDepth: 0.55,
  minLuminance: 200,
  maxSaturation: 40,
  minShare: 0.9,
};

const refuse = (code, message) => new ApiError(400, code, message);

async function checkMaterial(material, file, rule) {
  const title = rule?.title ?? "材料";
  if (file.size === 0) throw refuse("empty_file", `上传的${title}是空文件，请选择文件后重新上传。`);
  if (rule && file.size > rule.max_bytes) {
    throw refuse("file_too_large", `${title}文件不能超过 ${rule.max_bytes / 1048576} MB，请压缩或降低扫描分辨率后重新上传。`);
  }
  const head = new Uint8Array(await file.slice(0, 8).arrayBuffer());
  const type = SIGNATURES.find(([, bytes]) => bytes.every((byte, i) => head[i] === byte))?.[0];
  const allowed = material === "photo" ? ["image/jpeg", "image/png"] : SIGNATURES.map(([t]) => t);
  if (!allowed.includes(type)) throw refuse("unsupported_file_type", `${title}请上传 ${rule?.accepted ?? "JPG 或 PNG 格式的图片"}。`);
  if (material === "photo") await checkPhoto(file);
}

async function checkPhoto(file) {
  let image;
  try {
    image = await createImageBitmap(file);
  } catch {
    throw refuse("unreadable_file", "图片不完整或已损坏，无法打开，请重新拍摄或扫描后上传。");
  }
  const { width, height } = image;
  const [standardWidth, standardHeight] = PHOTO.standard;
  const [largestWidth, largestHeight] = PHOTO.largest;
  if (Math.abs(width / height / (standardWidth / standardHeight) - 1) > PHOTO.ratioTolerance) {
    throw refuse("photo_proportions", "照片应为竖版一寸照片，宽高比例为 295:413（与 295×413 像素相同），请按一寸照片的比例裁剪后重新上传。");
  }
  if (width < standardWidth || height < standardHeight || width > largestWidth || height > largestHeight) {
    throw refuse("photo_pixel_size", "照片尺寸应为 295×413 像素（标准一寸），或按同一比例放大，最大 1180×1652 像素。");
  }
  if (whiteShare(image) < PHOTO.minShare) {
    throw refuse("photo_background", "照片背景应为白色。请使用白色背景、无阴影的免冠照片，不要使用蓝色、红色或其他颜色的背景。");
  }
}

// The share of near-white pixels in the top band and the upper side bands, where
// only background should show; transparent parts count as the white they print as.
function whiteShare(image) {
  const { width, height } = image;
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.fillStyle = "#fff";
  context.fillRect(0, 0, width, height);
  context.drawImage(image, 0, 0);
  const side = Math.max(1, Math.round(width * PHOTO.band));
  const top = Math.max(1, Math.round(height * PHOTO.band));
  const depth = Math.round(height * PHOTO.sideDepth);
  const bands = [
    [0, 0, width, top],
    [0, top, side, depth - top],
    [width - side, top, side, depth - top],
  ];
  let white = 0;
  let total = 0;
  for (const [x, y, w, bandHeight] of bands) {
    if (w <= 0 || bandHeight <= 0) continue;
    const { data } = context.getImageData(x, y, w, bandHeight);
    for (let i = 0; i < data.length; i += 4) {
      if (nearWhite(data[i], data[i + 1], data[i + 2])) white += 1;
    }
    total += w * bandHeight;
  }
  return total ? white / total : 1;
}

function nearWhite(r, g, b) {
  const luminance = (r * 299 + g * 587 + b * 114) / 1000;
  const most = Math.max(r, g, b);
  const saturation = most === 0 ? 0 : ((most - Math.min(r, g, b)) * 255) / most;
  return luminance >= PHOTO.minLuminance && saturation <= PHOTO.maxSaturation;
}

// --- 消息 -------------------------------------------------------------------------

route(
  "#/inbox",
  async (main) => {
    const [{ notices, unread }, channels] = await Promise.all([
      api("GET", "/v1/me/notices"),
      api("GET", "/v1/me/notification-channels"),
    ]);
    heading(main, unread ? `消息（${unread} 条未读）` : "消息");
    main.append(
      h(
        "div",
        { id: "notices" },
        notices.length === 0 && h("p", { class: "muted" }, "还没有消息。"),
        notices.map((notice) => noticeCard(notice, HOLDER_INBOX)),
      ),
      channelsForm(channels),
    );
  },
  { roles: HOLDER },
);

function channelsForm(channels) {
  const form = h(
    "form",
    { class: "card", id: "channels" },
    h("h2", {}, "通知方式"),
    h("p", { class: "muted" }, "站内消息始终开启。还可以选择："),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "sms", checked: channels.sms }), " 短信（发送到注册手机号）"),
    !channels.sms_available && h("p", { class: "muted" }, "本系统暂未开通短信，开通后按您的选择发送。"),
    field("电子邮箱（不填则不发送邮件）", h("input", { id: "f-email", name: "email", type: "email", autocomplete: "email", value: channels.email ?? "" })),
    !channels.email_available && h("p", { class: "muted" }, "本系统暂未开通邮件，开通后按您的选择发送。"),
    h("button", { type: "submit" }, "保存通知方式"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(form, async () => {
      const { email } = values(form);
      const body = { sms: form.elements.sms.checked, email: email.trim() || null };
      await api("PUT", "/v1/me/notification-channels", body);
      form.prepend(okBox("通知方式已保存。"));
    });
  });
  return form;
}
