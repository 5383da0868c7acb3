// The alerts view: the monitor's states, firing first, then the rules in force. An admin edits
// thresholds in place and saves the whole set with the version it was read at: when another
// admin saved first, the API refuses (ALERT_RULES_STALE) and the problem says to reload.
import { h, number, table, when } from "./dom.js";
import { t } from "./i18n.js";

function states(answer) {
  if (!answer.items.length) return h("p", { class: "note" }, t("noAlerts"));
  return table([
    [t("rule"), (row) => row.rule],
    [t("target"), (row) => row.subject],
    [t("state"), (row) => h("span", { class: `badge ${row.status}` }, row.status)],
    [t("value"), (row) => number(row.value, 3)],
    [t("since"), (row) => when(row.since)],
  ], answer.items, (row) => ({ "data-alert": row.rule, "data-status": row.status }));
}

function threshold(rule, editable, edits) {
  if (!editable) return String(rule.threshold);
  return h("input", {
    type: "number", step: "any", min: 0, value: rule.threshold, size: 8, "data-threshold": rule.key,
    "aria-label": `${rule.key} ${t("threshold")}`,
    oninput: (event) => { edits[rule.key] = event.target.value; },
  });
}

export async function alerts(api, state) {
  const [answer, set] = await Promise.all([api.get("v1/admin/alerts"), api.get("v1/admin/alerts/rules")]);
  const editable = api.user && api.user.role === "admin";
  const edits = {};
  const save = async (event) => {
    event.preventDefault();
    const rules = set.rules.map((rule) => (rule.key in edits ? { ...rule, threshold: Number(edits[rule.key]) } : rule));
    const saved = await api.put("v1/admin/alerts/rules", { version: set.version, rules });
    state.show("alerts", { note: `${t("rulesSaved")}: v${saved.version}` });
  };
  const rules = table([
    [t("rule"), (rule) => rule.key],
    [t("kind"), (rule) => rule.kind],
    [t("threshold"), (rule) => threshold(rule, editable, edits)],
    [t("windowS"), (rule) => rule.window_s],
    [t("cooldownS"), (rule) => rule.cooldown_s],
    [t("channels"), (rule) => rule.channels.join(", ")],
    [t("enabled"), (rule) => t(rule.enabled ? "yes" : "no")],
  ], set.rules, (rule) => ({ "data-rule": rule.key, "data-threshold-value": rule.threshold }));
  return [
    state.note ? h("p", { class: "note", id: "note" }, state.note) : null,
    h("h2", {}, t("alerts")),
    states(answer),
    h("h2", { "data-version": set.version }, `${t("rules")} (v${set.version})`),
    editable ? h("form", { id: "rules", onsubmit: (e) => save(e).catch(state.fail) },
      rules, h("p", {}, h("button", { type: "submit", id: "save-rules" }, t("saveRules")))) : rules,
  ];
}
