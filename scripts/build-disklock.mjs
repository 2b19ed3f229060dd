// build-disklock.mjs — compiles native/disklock.cc (OFD byte-range locks for disk images) into
// build/native/disklock.node with the system C++ compiler, Node's headers and node-addon-api.
// Optional: if it cannot be built (no compiler, no headers, not Linux), it prints one warning and exits 0;
// `wasmvisor run --disk` then warns that images are not locked (host/cli/disk-lock.ts).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "build/native/disklock.node");
const warn = (why) => {
  console.warn(`build-disklock: warning: disk image locking not built (${why}); wasmvisor runs without it and says so`);
  process.exit(0);
};

if (process.platform !== "linux") warn(`OFD locks need Linux, this is ${process.platform}`);
let addonInclude;
try {
  addonInclude = dirname(createRequire(import.meta.url).resolve("node-addon-api/package.json"));
} catch {
  warn("node-addon-api is not installed");
}
// Node's headers: next to the binary (/usr/include/node, ~/.nvm/.../include/node) or from the node-gyp cache
const prefix = join(dirname(process.execPath), "..");
const candidates = [join(prefix, "include/node"), "/usr/include/node", "/usr/local/include/node"];
const nodeInclude = candidates.find((d) => existsSync(join(d, "node_api.h")));
if (!nodeInclude) warn(`Node's headers (node_api.h) not found in ${candidates.join(", ")}`);
const cxx = process.env.CXX || "g++";
mkdirSync(dirname(out), { recursive: true });
try {
  execFileSync(cxx, [
    "-std=c++17", "-O2", "-shared", "-fPIC", "-fvisibility=hidden", "-DNAPI_VERSION=8", "-DNAPI_DISABLE_CPP_EXCEPTIONS",
    "-DNODE_ADDON_API_DISABLE_DEPRECATED", `-I${nodeInclude}`, `-I${addonInclude}`,
    join(root, "native/disklock.cc"), "-o", out,
  ], { stdio: ["ignore", "ignore", "pipe"] });
} catch (e) {
  const msg = e.code === "ENOENT" ? `no C++ compiler '${cxx}'` : `${cxx} failed: ${String(e.stderr ?? e.message).trim().split("\n")[0]}`;
  warn(msg);
}
console.log("build-disklock: build/native/disklock.node");
