// The overview: tasks, outcomes per feature and provider, credits, active users (rollups),
// two series charts (uPlot) and the per-route request figures.
import { h, number, percent, table } from "./dom.js";
import { t } from "./i18n.js";

const COLOURS = ["#2563eb", "#dc2626", "#16a34a", "#d97706"];

function card(label, value, name) {
  return h("div", { class: "card", "data-kpi": name }, h("span", {}, label), h("b", {}, value));
}

function outcomes(rows, key) {
  return table([
    [t(key), (row) => row[key] || "–"],
    [t("succeeded"), (row) => row.succeeded],
    [t("failed"), (row) => row.failed],
    [t("successRate"), (row) => percent(row.success_rate)],
    [t("fallbacks"), (row) => row.fallbacks],
    [t("avgMs"), (row) => number(row.duration_ms_avg)],
  ], rows, (row) => ({ [`data-${key}`]: row[key], "data-count": row.succeeded + row.failed + row.canceled }));
}

function routes(answer) {
  return table([
    [t("route"), (row) => row.route],
    [t("requests"), (row) => row.requests],
    [t("rps"), (row) => number(row.requests_per_s, 4)],
    [t("p50"), (row) => number(row.latency_ms_p50, 1)],
    [t("p95"), (row) => number(row.latency_ms_p95, 1)],
    [t("errorRate"), (row) => percent(row.error_rate)],
  ], answer.routes, (row) => ({ "data-route": row.route, "data-requests": row.requests }));
}

/** A uPlot line chart of `series` ([label, points]) sharing their time axis. */
function chart(title, series) {
  const box = h("figure", { class: "chart" }, h("figcaption", {}, title));
  const times = series[0][1].map((point) => Date.parse(point.t) / 1000);
  const total = series.reduce((sum, [, points]) => sum + points.reduce((s, p) => s + p.value, 0), 0);
  box.dataset.total = String(total);
  const data = [times, ...series.map(([, points]) => points.map((point) => point.value))];
  const options = {
    width: 520, height: 220,
    series: [{}, ...series.map(([label], i) => ({ label, stroke: COLOURS[i], width: 2 }))],
    axes: [{}, { size: 50 }],
  };
  requestAnimationFrame(() => new window.uPlot(options, data, box));
  return box;
}

async function routeFigures(api, window) {
  try {
    return routes(await api.get("v1/admin/metrics/routes", { window }));
  } catch (problem) {
    return h("p", { class: "note" }, problem.title, " ", problem.detail);
  }
}

export async function overview(api, state) {
  const span = state.window || "24h";
  const series = (metric) => api.get("v1/admin/metrics/series", { metric, window: span }).then((a) => a.points);
  const [summary, created, failed, charged, refunded, routeView] = await Promise.all([
    api.get("v1/admin/metrics/overview", { window: span }), series("tasks_created"),
    series("tasks_failed"), series("credits_charged"), series("credits_refunded"),
    routeFigures(api, span),
  ]);
  const pick = h("select", { id: "window", onchange: (e) => state.show("overview", { window: e.target.value }) },
    ["1h", "24h", "7d"].map((w) => h("option", { value: w, selected: w === span }, w)));
  return [
    h("label", { class: "window" }, t("window"), " ", pick),
    h("div", { class: "cards" },
      card(t("tasksCreated"), summary.tasks_created, "tasks_created"),
      card(t("successRate"), percent(summary.tasks.success_rate), "success_rate"),
      card(t("fallbacks"), summary.tasks.fallbacks, "fallbacks"),
      card(t("charged"), summary.credits.charged, "charged"),
      card(t("refunded"), summary.credits.refunded, "refunded"),
      card(t("hourUsers"), summary.active_users.hour, "hour"),
      card(t("dau"), summary.active_users.day, "dau"),
      card(t("wau"), summary.active_users.week, "wau")),
    h("div", { class: "charts" },
      chart(t("tasksSeries"), [[t("tasksCreated"), created], [t("failed"), failed]]),
      chart(t("creditsSeries"), [[t("charged"), charged], [t("refunded"), refunded]])),
    h("h2", {}, t("byFeature")), outcomes(summary.by_feature, "feature"),
    h("h2", {}, t("byProvider")), outcomes(summary.by_provider, "provider"),
    h("h2", {}, t("routes")), routeView,
  ];
}
