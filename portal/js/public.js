// Pages for everyone: the service guide, signing up and in, public verification.

import { api, forget, saveTokens, session } from "./api.js";
import { attempt, field, guide, h, menuItem, navigate, okBox, route, values } from "./app.js";

menuItem("办事指南", "#/");
menuItem("证书查验", "#/verify");
menuItem("注册", "#/register", ["guest"]);
menuItem("登录", "#/sign-in", ["guest"]);
// Pages for holders and staff add their own items; this one comes last.
queueMicrotask(() =>
  menuItem("退出登录", "#/sign-out", [
    "applicant",
    "reviewer",
    "counter_clerk",
    "shipping_clerk",
    "administrator",
  ]),
);

route("#/", async (main) => {
  const g = await guide();
  main.append(
    h("h1", {}, g.title),
    h(
      "section",
      { class: "card" },
      h("h2", {}, "领取纸质证书"),
      h("p", {}, `现场自取：${g.pickup.days}`),
      h("p", {}, g.pickup.summer, h("br"), g.pickup.winter),
      h("p", {}, `请携带：${g.pickup.bring}`),
      h("p", {}, `收费标准：${g.fees}`),
      h("p", { class: "muted" }, g.custody),
    ),
    h(
      "section",
      { class: "card" },
      h("h2", {}, "承诺办结时间（工作日）"),
      h("ul", {}, g.deadlines.map((line) => h("li", {}, line))),
    ),
    h(
      "section",
      { class: "card" },
      h("h2", {}, "证书补办材料"),
      h(
        "ul",
        {},
        g.materials.map((m) => h("li", {}, `${m.name}（${m.required ? "必要" : "非必要"}）`)),
      ),
    ),
    h(
      "section",
      { class: "card", id: "phones" },
      h("h2", {}, "咨询方式"),
      g.phones.map((p) => h("p", {}, `${p.label}：${p.numbers.join("，")}`)),
    ),
  );
});

route(
  "#/register",
  (main) => {
    const form = h(
      "form",
      { class: "card", id: "register" },
      field("手机号码", h("input", { name: "mobile", inputmode: "numeric", autocomplete: "tel", required: true })),
      field("密码", h("input", { name: "password", type: "password", autocomplete: "new-password", required: true })),
      h("p", { class: "muted" }, "密码至少 10 位，不要使用常见密码。"),
      h("button", { type: "submit" }, "注册"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      attempt(form, async () => {
        const body = values(form);
        await api("POST", "/v1/accounts", body);
        saveTokens(await api("POST", "/v1/sessions", body));
        navigate("#/real-name");
      });
    });
    main.append(h("h1", {}, "注册账号"), form);
  },
  { roles: ["guest"] },
);

route(
  "#/sign-in",
  (main) => {
    const form = h(
      "form",
      { class: "card", id: "sign-in" },
      field("手机号码", h("input", { name: "mobile", inputmode: "numeric", autocomplete: "username", required: true })),
      field("密码", h("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
      h("button", { type: "submit" }, "登录"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      attempt(form, async () => {
        saveTokens(await api("POST", "/v1/sessions", values(form)));
        const staff = session().roles.some((role) => role !== "applicant");
        navigate(staff ? "#/staff" : "#/certificates");
      });
    });
    main.append(h("h1", {}, "登录"), form);
  },
  { roles: ["guest"] },
);

route("#/sign-out", async (main) => {
  const current = session();
  if (current) {
    await api("POST", "/v1/sessions/sign-out", { refresh_token: current.refresh_token }).catch(() => {});
  }
  forget();
  main.append(h("h1", {}, "已退出登录"), okBox("您已安全退出。"));
  navigate("#/");
});

// 查验: by number and name (sent in the body, never in the address), or by the
// QR code's link (/verify?number=...&code=...), which carries no personal data.
function verificationPage(main, params) {
  const result = h("div", { id: "verification-result" });
  const form = h(
    "form",
    { class: "card", id: "verify" },
    field("证书编号", h("input", { name: "number", required: true, value: params.get("number") ?? "" })),
    field("持证人姓名", h("input", { name: "name", autocomplete: "off" })),
    h("button", { type: "submit" }, "查验"),
  );
  const check = (body) =>
    attempt(form, async () => {
      const answer = await api("POST", "/v1/verification", body);
      result.replaceChildren(verdict(answer));
    });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    check(values(form));
  });
  main.append(
    h("h1", {}, "证书查验"),
    h("p", { class: "muted" }, "输入证书编号和持证人姓名，或扫描证书上的二维码。"),
    form,
    result,
  );
  if (params.get("number") && params.get("code")) {
    check({ number: params.get("number"), code: params.get("code") });
  }
}

const VERDICTS = { valid: "有效", reissued: "已补发", revoked: "已注销" };

function verdict(answer) {
  const q = answer.qualification;
  const rows = [
    ["证书编号", answer.certificate_number],
    ["持证人", answer.holder_name],
    ["资格名称", [q.name, q.level, q.specialty].filter(Boolean).join(" · ")],
    ["考试结束日期", answer.exam_end_date],
    answer.reason && ["注销原因", answer.reason],
  ].filter(Boolean);
  return h(
    "section",
    { class: "card", dataset: { status: answer.status } },
    h("h2", {}, `查验结果：${VERDICTS[answer.status] ?? answer.status}`),
    answer.notice && h("p", {}, answer.notice),
    h("table", {}, rows.map(([label, value]) => h("tr", {}, h("th", {}, label), h("td", {}, value)))),
  );
}

route("#/verify", verificationPage);
route("/verify", verificationPage);
