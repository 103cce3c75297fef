// heap-sites.mjs -- summarises heaptrack_print's peak consumers per socket:
//   node heap-sites.mjs peaks.txt SOCKETS
// Each block of peaks.txt starts "<size> peak memory consumed over <calls>
// calls from" and lists frames, innermost first. A block is named by its
// first frame in our own code ("at ws/...": function and file), or by the
// library that allocated it when none of its frames is ours before a
// library's entry point. Sites called at least half as often as there are
// sockets are shown per socket; the rest are summed.
import { readFileSync } from "node:fs";

const [file, socketsArg] = process.argv.slice(2);
const sockets = Number(socketsArg);
const unit = { "": 1, K: 1e3, M: 1e6, G: 1e9 };
const blocks = [];
let cur = null;
for (const line of readFileSync(file, "utf8").split("\n")) {
  const head = line.match(/^([\d.]+)([KMG]?) peak memory consumed over (\d+) calls from/);
  if (head) {
    cur = { bytes: Number(head[1]) * unit[head[2]], calls: Number(head[3]), frames: [] };
    blocks.push(cur);
  } else if (cur && /^\s+\S/.test(line)) {
    cur.frames.push(line.trim());
  }
}
// The frame after "fn" is "at file:line" for our code, "in /lib/..." for a
// library. libwebsockets allocates for itself (its connection structures,
// called from the loop): those blocks are its own, whoever is further out.
// Another library's block (jansson, SQLite) is named by our caller.
function libOf(frames, i) {
  const m = (frames[i + 1] || "").match(/^in .*\/(lib[^./]+)/);
  return m ? m[1] : null;
}
function siteOf(frames) {
  const innerLib = libOf(frames, 0);
  if (innerLib === "libwebsockets") return "libwebsockets";
  for (let i = 0; i < frames.length - 1; i++) {
    const at = frames[i + 1].match(/^at ((ws|sql|common|core|bus)\/[^:]+)/);
    if (at) return `${frames[i]} (${at[1]}${innerLib ? ", in " + innerLib : ""})`;
  }
  return innerLib || "?";
}
const per = new Map();
let other = 0;
let total = 0;
for (const b of blocks) {
  total += b.bytes;
  if (b.calls < sockets / 2) {
    other += b.bytes;
    continue;
  }
  const site = siteOf(b.frames);
  per.set(site, (per.get(site) || 0) + b.bytes);
}
const rows = [...per.entries()].sort((a, b) => b[1] - a[1]);
let perSocket = 0;
for (const [site, bytes] of rows) {
  perSocket += bytes / sockets;
  console.log(`${String(Math.round(bytes / sockets)).padStart(6)} B  ${site}`);
}
console.log(`${String(Math.round(perSocket)).padStart(6)} B  per socket in these sites`);
const byLib = new Map();
for (const [site, bytes] of rows) {
  const owner = site.includes("(") ? "ours" : site;
  byLib.set(owner, (byLib.get(owner) || 0) + bytes / sockets);
}
for (const [owner, b] of byLib) console.log(`${String(Math.round(b)).padStart(6)} B  of them: ${owner}`);
console.log(`(other sites, allocated less than once per two sockets: ${(other / 1e6).toFixed(2)} MB in all)`);
