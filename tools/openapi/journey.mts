// The TypeScript client's journey (tests/integration/contract/test_clients.py): types from
// docs/openapi.json by openapi-typescript (build/schema.d.ts), calls by openapi-fetch. `tsc
// --strict` must accept it — `error.code` is the ErrorCode union — and node runs it against
// the served stack: register, verify with the mailed token, upload, create a task, read its events, cancel, typed errors.
import createClient from "openapi-fetch";
import type { components, paths } from "./build/schema";

type ErrorCode = components["schemas"]["ErrorCode"];
type Problem = components["schemas"]["Problem"];

const [baseUrl, imagePath, mailDir] = [
  process.env.RETOUCH_URL!,
  process.env.RETOUCH_IMAGE!,
  process.env.RETOUCH_MAIL_DIR!,
];
const api = createClient<paths>({ baseUrl });

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(`journey: ${what}`);
}

function expectProblem(error: Problem | undefined, code: ErrorCode, status: number): void {
  check(error !== undefined, `no problem where ${code} was due`);
  check(error.code === code && error.status === status, `${code}: ${JSON.stringify(error)}`);
}

const { readdir, readFile } = await import("node:fs/promises");

// The token of the last verification link mailed to `to`, read from the sink's .eml files.
async function mailedToken(to: string): Promise<string> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const names = await readdir(mailDir).catch(() => [] as string[]);
    for (const name of names.sort().reverse()) {
      const text = await readFile(`${mailDir}/${name}`, "utf8");
      const token = /verify-email\?token=([A-Za-z0-9_-]+)/.exec(text)?.[1];
      if (text.includes(`To: ${to}`) && token !== undefined) return token;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`journey: no verification mail to ${to}`);
}

const email = `ts-${Date.now()}@example.com`;
const registered = await api.POST("/v1/auth/register", {
  body: { email, password: "Journey-pass-1" },
});
check(registered.data?.status === "verification_sent", `register: ${registered.response.status}`);
const verified = await api.POST("/v1/auth/verify", { body: { token: await mailedToken(email) } });
check(verified.data !== undefined, `verify: ${JSON.stringify(verified.error)}`);
const auth = { Authorization: `Bearer ${verified.data.access_token}` };
const reused = await api.POST("/v1/auth/verify", { body: { token: await mailedToken(email) } });
expectProblem(reused.error, "VERIFICATION_TOKEN_INVALID", 400);

const image = new Uint8Array(await readFile(imagePath));
const ticket = await api.POST("/v1/uploads", {
  headers: auth,
  body: { content_type: "image/png", size: image.byteLength },
});
check(ticket.data !== undefined, `upload ticket: ${JSON.stringify(ticket.error)}`);
const put = await fetch(ticket.data.url, {
  method: ticket.data.method,
  headers: ticket.data.headers,
  body: image,
});
check(put.ok, `upload PUT: ${put.status}`);
const upload = await api.GET("/v1/uploads/{upload_id}", {
  headers: auth,
  params: { path: { upload_id: ticket.data.id } },
});
check(upload.data?.status === "ready", `upload: ${JSON.stringify(upload.data)}`);

const created = await api.POST("/v1/tasks", {
  headers: { ...auth, "idempotency-key": `ts-${Date.now()}` },
  body: { feature: "cutout", inputs: { image: ticket.data.id } },
});
check(created.data !== undefined, `create: ${JSON.stringify(created.error)}`);
const taskId = created.data.id;

const events = await fetch(`${baseUrl}/v1/tasks/${taskId}/events`, {
  headers: { ...auth, Accept: "text/event-stream" },
});
const reader = events.body!.getReader();
const first = new TextDecoder().decode((await reader.read()).value);
await reader.cancel();
check(first.includes("event: task"), `events: ${first}`);

const canceled = await api.POST("/v1/tasks/{task_id}/cancel", {
  headers: auth,
  params: { path: { task_id: taskId } },
});
const status = canceled.data?.status ?? canceled.error?.code;
check(status === "canceled" || status === "TASK_NOT_CANCELABLE", `cancel: ${status}`);

const missing = await api.GET("/v1/tasks/{task_id}", {
  headers: auth,
  params: { path: { task_id: "tsk_nosuchtask0000" } },
});
expectProblem(missing.error, "NOT_FOUND", 404);
const tooMany = await api.GET("/v1/tasks", { headers: auth, params: { query: { limit: 1000 } } });
expectProblem(tooMany.error, "VALIDATION_FAILED", 422);
check(tooMany.error?.errors?.[0]?.field !== undefined, "a field error names its field");
const anonymous = await api.GET("/v1/me/quota");
expectProblem(anonymous.error, "UNAUTHENTICATED", 401);
console.log("journey: ok");
