// The console: sign-in, then one view at a time (the URL's #fragment names it). The API root is
// the folder the page is served from, so a stage prefix (/Prod, /release) is kept.
import { Api } from "./api.js";
import { h } from "./dom.js";
import { t, toggleLanguage } from "./i18n.js";
import { overview } from "./overview.js";
import { alerts } from "./alerts.js";
import { audit, providers, queues, tasks } from "./views.js";

const VIEWS = { overview, queues, providers, alerts, audit, tasks };
const api = new Api(new URL(".", location.href));
const view = document.getElementById("view");
const problem = document.getElementById("problem");
let shown = { name: "overview", options: {} };

function showProblem(error) {
  problem.hidden = !error;
  problem.textContent = error ? [error.title, error.detail].filter(Boolean).join(" — ") : "";
}

function translate() {
  document.documentElement.lang = t("title") === "Retouch console" ? "en" : "zh-CN";
  document.querySelectorAll("[data-text]").forEach((el) => { el.textContent = t(el.dataset.text); });
  document.getElementById("language").textContent = t("title") === "Retouch console" ? "中文" : "English";
}

function nav() {
  const links = Object.keys(VIEWS).map((name) =>
    h("a", { href: `#${name}`, "data-view": name, class: name === shown.name ? "active" : null }, t(name)));
  document.getElementById("nav").replaceChildren(...links);
}

async function show(name, options = {}) {
  shown = { name, options };
  if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
  nav();
  showProblem(null);
  view.dataset.view = name;
  view.dataset.ready = "false";
  try {
    view.replaceChildren(...(await VIEWS[name](api, { ...options, show, fail: showProblem })).filter(Boolean));
  } catch (error) {
    view.replaceChildren();
    showProblem(error);
  }
  view.dataset.ready = "true";
}

function signIn() {
  const email = h("input", { id: "email", type: "email", autocomplete: "username", required: true });
  const password = h("input", { id: "password", type: "password", autocomplete: "current-password", required: true });
  const form = h("form", { class: "sign-in", onsubmit: async (event) => {
    event.preventDefault();
    try {
      const user = await api.login(email.value, password.value);
      document.getElementById("who").textContent = user.email;
      document.getElementById("nav").hidden = false;
      document.getElementById("sign-out").hidden = false;
      const name = location.hash.slice(1);
      await show(name in VIEWS ? name : "overview");
    } catch (error) {
      showProblem(error);
    }
  } },
  h("h1", {}, t("signIn")), h("label", {}, t("email"), email), h("label", {}, t("password"), password),
  h("button", { type: "submit", id: "sign-in" }, t("signIn")));
  view.dataset.view = "sign-in";
  view.replaceChildren(form);
}

window.addEventListener("hashchange", () => {
  const name = location.hash.slice(1);
  if (api.access && name in VIEWS && name !== shown.name) show(name);
});
document.getElementById("language").addEventListener("click", () => {
  toggleLanguage();
  translate();
  if (api.access) show(shown.name, shown.options); else signIn();
});
document.getElementById("sign-out").addEventListener("click", () => {
  api.signOut();
  document.getElementById("nav").hidden = true;
  document.getElementById("sign-out").hidden = true;
  document.getElementById("who").textContent = "";
  signIn();
});
translate();
signIn();
