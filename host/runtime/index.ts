// index.ts — the runtime the host modules run in (types.ts): Node here; the web build substitutes browser.ts.
export { runtime } from "./node.ts";
export type { HostRuntime, HostFs } from "./types.ts";
