// The console's other views: queues (dead letters, redrive, cache), providers, the audit log
// and the task lookup (alerts are in alerts.js). Each returns its elements; a failed call shows its problem.
import { idempotencyKey } from "./api.js";
import { h, number, percent, table, when } from "./dom.js";
import { t } from "./i18n.js";

function age(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  return seconds < 120 ? `${seconds.toFixed(1)} s` : `${(seconds / 60).toFixed(0)} min`;
}

export async function queues(api, state) {
  const [depths, answer] = await Promise.all([api.get("v1/admin/queues"), api.get("v1/admin/dead-letters")]);
  const redrive = (queue) => async () => {
    const done = await api.post(`v1/admin/dead-letters/${queue}/redrive`, {}, { "Idempotency-Key": idempotencyKey() });
    state.show("queues", { note: `${t("redriven")}: ${done.queue} × ${done.moved}` });
  };
  const invalidate = async () => {
    await api.post("v1/admin/cache/invalidate", { namespace: "catalog" });
    state.show("queues", { note: t("invalidated") });
  };
  return [
    state.note ? h("p", { class: "note", id: "note" }, state.note) : null,
    h("h2", {}, t("depths")),
    table([
      [t("queue"), (row) => row.queue],
      [t("waiting"), (row) => (row.waiting === null ? "–" : row.waiting)],
      [t("deadLetters"), (row) => row.dead],
      [t("oldestWaiting"), (row) => age(row.oldest_age_s)],
    ], depths.queues, (row) => ({ "data-depth": row.queue, "data-dead": row.dead, "data-waiting": row.waiting ?? "" })),
    h("h2", {}, t("deadLetters")),
    table([
      [t("queue"), (row) => row.queue],
      [t("count"), (row) => `${row.count}${row.count_is_lower_bound ? "+" : ""}`],
      [t("oldest"), (row) => when(row.oldest_dead_at)],
      ["", (row) => h("button", { type: "button", disabled: row.count === 0, "data-redrive": row.queue, onclick: redrive(row.queue) }, t("redrive"))],
    ], answer.queues, (row) => ({ "data-queue": row.queue, "data-count": row.count })),
    h("h2", {}, t("cache")),
    h("button", { type: "button", id: "invalidate", onclick: invalidate }, t("invalidate")),
  ];
}

export async function providers(api) {
  const answer = await api.get("v1/admin/providers/health");
  return [h("h2", {}, t("providers")), table([
    [t("provider"), (row) => row.key],
    [t("kind"), (row) => row.kind],
    [t("enabled"), (row) => t(row.enabled ? "yes" : "no")],
    [t("succeeded"), (row) => row.succeeded],
    [t("failed"), (row) => row.failed],
    [t("successRate"), (row) => percent(row.success_rate)],
    [t("p50"), (row) => number(row.latency_p50_ms)],
    [t("p95"), (row) => number(row.latency_p95_ms)],
    [t("breaker"), (row) => h("span", { class: `badge ${row.breaker}` }, row.breaker)],
    [t("slots"), (row) => row.slots_in_use],
  ], answer.items, (row) => ({ "data-provider": row.key }))];
}

export async function audit(api, state) {
  const answer = await api.get("v1/admin/audit", { cursor: state.cursor, limit: 25 });
  const next = answer.next_cursor
    ? h("button", { type: "button", id: "next", onclick: () => state.show("audit", { cursor: answer.next_cursor }) }, t("next"))
    : null;
  return [h("h2", {}, t("audit")), table([
    [t("at"), (row) => when(row.created_at)],
    [t("actor"), (row) => row.actor || "–"],
    [t("action"), (row) => row.action],
    [t("target"), (row) => `${row.target_type} ${row.target_id}`],
  ], answer.items, (row) => ({ "data-action": row.action })), next];
}

function taskTable(api, state, items) {
  return table([
    ["id", (row) => h("a", { href: "#tasks", onclick: () => state.show("tasks", { query: row.id }) }, row.id)],
    [t("feature"), (row) => row.feature],
    [t("status"), (row) => h("span", { class: `badge ${row.status}` }, row.status)],
    [t("cost"), (row) => row.cost],
    [t("created"), (row) => when(row.created_at)],
  ], items, (row) => ({ "data-task": row.id, "data-feature": row.feature }));
}

function taskDetail(task) {
  return [
    h("dl", { class: "task", "data-task": task.id },
      [["id", task.id], [t("feature"), task.feature], [t("status"), task.status], [t("cost"), task.cost],
        [t("created"), when(task.created_at)], [t("finished"), when(task.finished_at)],
        [t("error"), [task.error_code, task.error_detail].filter(Boolean).join(": ") || "–"]]
        .map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])),
    h("h2", {}, t("steps")),
    table([
      [t("step"), (row) => `${row.index}. ${row.step}`],
      [t("status"), (row) => row.status],
      [t("provider"), (row) => row.provider || "–"],
      [t("attempt"), (row) => row.attempt],
      [t("fallbacks"), (row) => row.fallbacks.map((f) => `${f.provider} (${f.code})`).join(", ") || "–"],
      [t("error"), (row) => row.error_code || "–"],
    ], task.steps, (row) => ({ "data-step": row.step })),
  ];
}

export async function tasks(api, state) {
  const query = (state.query || "").trim();
  const input = h("input", { id: "task-query", value: query, placeholder: t("taskOrUser"), size: 40 });
  const form = h("form", { onsubmit: (e) => { e.preventDefault(); state.show("tasks", { query: input.value }); } },
    input, " ", h("button", { type: "submit" }, t("lookup")));
  if (!query) {
    return [form, h("h2", {}, t("tasks")), taskTable(api, state, (await api.get("v1/admin/tasks", { limit: 20 })).items)];
  }
  if (query.startsWith("usr_")) {
    return [form, taskTable(api, state, (await api.get("v1/admin/tasks", { user_id: query, limit: 50 })).items)];
  }
  return [form, ...taskDetail(await api.get(`v1/admin/tasks/${encodeURIComponent(query)}`))];
}
