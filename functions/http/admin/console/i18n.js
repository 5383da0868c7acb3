// The console's texts in English and Simplified Chinese; the browser's language picks the first.
const TEXTS = {
  en: {
    title: "Retouch console", signIn: "Sign in", signOut: "Sign out", email: "Email",
    password: "Password", overview: "Overview", queues: "Queues", providers: "Providers",
    alerts: "Alerts", audit: "Audit log", tasks: "Task lookup", window: "Window",
    tasksCreated: "Tasks created", successRate: "Success rate", fallbacks: "Fallbacks",
    charged: "Credits charged", refunded: "Credits refunded", dau: "Active users (day)",
    wau: "Active users (week)", hourUsers: "Active users (hour)", byFeature: "Tasks per feature",
    byProvider: "Tasks per provider", feature: "Feature", provider: "Provider",
    succeeded: "Succeeded", failed: "Failed", canceled: "Canceled", avgMs: "Mean duration (ms)",
    routes: "Requests per route", route: "Route", requests: "Requests", rps: "Requests/s",
    p50: "p50 (ms)", p95: "p95 (ms)", errorRate: "Error rate", tasksSeries: "Tasks per period",
    creditsSeries: "Credits per period", deadLetters: "Dead letters", queue: "Queue",
    count: "Count", oldest: "Oldest", redrive: "Redrive", redriven: "Moved back to the queue",
    cache: "Cache", invalidate: "Invalidate the catalog cache", invalidated: "Cache invalidated",
    kind: "Kind", enabled: "Enabled", breaker: "Breaker", slots: "Slots in use",
    rule: "Rule", state: "State", since: "Since", value: "Value", noAlerts: "No alerts",
    actor: "Actor", action: "Action", target: "Target", at: "At", next: "Next page",
    lookup: "Look up", taskOrUser: "Task id (tsk_…) or user id (usr_…)", status: "Status",
    cost: "Cost", created: "Created", finished: "Finished", step: "Step", attempt: "Attempt",
    error: "Error", steps: "Steps and provider attempts", none: "Nothing yet", yes: "yes", no: "no",
    rules: "Rules", threshold: "Threshold", windowS: "Window (s)", cooldownS: "Cooldown (s)",
    channels: "Channels", saveRules: "Save the rules", rulesSaved: "Rules saved",
    depths: "Queue depths", waiting: "Waiting", oldestWaiting: "Oldest waiting",
  },
  "zh-CN": {
    title: "Retouch 控制台", signIn: "登录", signOut: "退出", email: "邮箱", password: "密码",
    overview: "概览", queues: "队列", providers: "服务商", alerts: "告警", audit: "审计日志",
    tasks: "任务查询", window: "时间范围", tasksCreated: "创建的任务", successRate: "成功率",
    fallbacks: "降级次数", charged: "扣除积分", refunded: "退还积分", dau: "日活跃用户",
    wau: "周活跃用户", hourUsers: "小时活跃用户", byFeature: "各功能任务", byProvider: "各服务商任务",
    feature: "功能", provider: "服务商", succeeded: "成功", failed: "失败", canceled: "取消",
    avgMs: "平均耗时（毫秒）", routes: "各路由请求", route: "路由", requests: "请求数",
    rps: "每秒请求", p50: "p50（毫秒）", p95: "p95（毫秒）", errorRate: "错误率",
    tasksSeries: "各时段任务", creditsSeries: "各时段积分", deadLetters: "死信", queue: "队列",
    count: "数量", oldest: "最早", redrive: "重新投递", redriven: "已移回队列", cache: "缓存",
    invalidate: "清除目录缓存", invalidated: "缓存已清除", kind: "类型", enabled: "启用",
    breaker: "熔断器", slots: "占用并发", rule: "规则", state: "状态", since: "开始于",
    value: "数值", noAlerts: "没有告警", actor: "操作人", action: "操作", target: "对象",
    at: "时间", next: "下一页", lookup: "查询", taskOrUser: "任务 ID（tsk_…）或用户 ID（usr_…）",
    status: "状态", cost: "积分", created: "创建时间", finished: "完成时间", step: "步骤",
    attempt: "尝试", error: "错误", steps: "步骤与服务商尝试", none: "暂无数据", yes: "是", no: "否",
    rules: "规则", threshold: "阈值", windowS: "窗口（秒）", cooldownS: "冷却（秒）",
    channels: "通知渠道", saveRules: "保存规则", rulesSaved: "规则已保存",
    depths: "队列深度", waiting: "等待中", oldestWaiting: "最早等待",
  },
};

let language = (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh-CN" : "en";

/** The current language's text for `key` (the key itself when missing). */
export function t(key) {
  return TEXTS[language][key] ?? key;
}

export function currentLanguage() {
  return language;
}

/** Switch between the two languages; the new one. */
export function toggleLanguage() {
  language = language === "en" ? "zh-CN" : "en";
  return language;
}
