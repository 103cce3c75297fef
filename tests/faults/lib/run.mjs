// run.mjs -- one run of the fault checker against one stack: clients join a
// new room, then send while the nemesis strikes; then the writers finish,
// the clients catch up, and the checks below give a report.
//
// The checks (each non-zero count of the first group fails the run):
//   store:   every acknowledged message is stored exactly once, under the id
//            its ack gave; no phantom rows (a row whose client_id nobody
//            sent); no client_id stored twice;
//   clients: every client received every stored message of the room (all
//            came after its first join), in log order, by live delivery,
//            recovery or the documented fallback;
//   recovery: no refused recovery that the server had no documented reason
//            for (README "The delivery promise": every socket is recoverable
//            at every instant, including right after a recovery; the only
//            reasons are the window, --max-replay, an unknown session and
//            the database unreachable at that instant): a refusal is "legit"
//            when the client lacked more than --max-replay messages, or came
//            during a PostgreSQL restart or within 3 s after it.
// Reported too: recoveries (true/false), duplicates received (at least once
// allows them), resends, kills.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { api, roomMessages } from '../../integration/lib/client.mjs';
import { ROOT } from '../../integration/lib/stack.mjs';
import { RestWriter, SocketClient } from './clients.mjs';
import { nemesis } from './nemesis.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const num = (name, dflt) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
};

export const CONFIG = {
  seconds: num('FAULTS_SECONDS', 30), // the nemesis's time
  every: num('FAULTS_KILL_EVERY', 3), // seconds between faults
  wsClients: num('FAULTS_WS_CLIENTS', 6),
  pollingClients: num('FAULTS_POLLING_CLIENTS', 3),
  sendMs: num('FAULTS_SEND_MS', 60), // pause between a client's messages
  restMs: num('FAULTS_REST_MS', 200),
  // Low enough that a client away for a second or two is refused recovery
  // for the documented reason, so the fallback is exercised too.
  maxReplay: num('FAULTS_MAX_REPLAY', 100),
  // Short pings so that a frozen process is noticed within the run: a
  // client gives up on a silent server after interval + timeout.
  pingMs: num('FAULTS_PING_MS', 2000),
  drainSeconds: num('FAULTS_DRAIN_SECONDS', 60),
};

export function wsArgs(cfg = CONFIG) {
  return `--ping-interval ${cfg.pingMs} --ping-timeout ${cfg.pingMs} --max-replay ${cfg.maxReplay}`;
}

/* Runs clients and nemesis against stack; resolves to the report, whose
 * `failures` lists what broke the promise (empty: passed). */
export async function faultRun(stack, { log = () => {}, cfg = CONFIG } = {}) {
  const phases = {};
  let t = Date.now();
  const phase = (name) => {
    phases[name] = (Date.now() - t) / 1000;
    t = Date.now();
  };
  const tag = Math.random().toString(36).slice(2, 7);
  const res = await api(stack.url, '/api/rooms', { method: 'POST', json: { name: `faults-${tag}` } });
  if (res.status !== 201) throw new Error(`POST /api/rooms: ${res.status} ${JSON.stringify(res.body)}`);
  const room = { id: res.body.id, name: res.body.name };

  const clients = [];
  for (let i = 0; i < cfg.wsClients + cfg.pollingClients; i++) {
    const transport = i < cfg.wsClients ? 'websocket' : 'polling';
    clients.push(new SocketClient({ url: stack.url, name: `f${tag}-${transport[0]}${i}`, transport, room, every: cfg.sendMs }));
  }
  const rest = new RestWriter({ url: stack.url, name: `f${tag}-rest`, room, every: cfg.restMs });
  try {
    return await checkedRun({ stack, cfg, room, clients, rest, log, phase, phases });
  } finally {
    for (const w of [...clients, rest]) w.close(); // also after an error
  }
}

async function checkedRun({ stack, cfg, room, clients, rest, log, phase, phases }) {
  await Promise.all([...clients.map((c) => c.start()), rest.start()]);
  const first = await roomMessages(stack.url, room.id);
  if (first.length) throw new Error(`the room had ${first.length} messages before the writers started`);

  phase('setup');
  const t0 = Date.now();
  const writers = [...clients, rest];
  const sending = writers.map((w) => w.send());
  const faults = await nemesis({ targets: stack.targets, seconds: cfg.seconds, every: cfg.every, freezeMs: 3 * cfg.pingMs + 1000, log });
  phase('faults');

  // The writers finish the message they are at (acked after retries).
  for (const w of writers) w.stopping = true;
  const drained = await Promise.race([Promise.all(sending).then(() => true), sleep(cfg.drainSeconds * 1000).then(() => false)]);
  if (!drained) for (const w of writers) w.close();
  phase('drain');

  // The clients catch up: every stored message, or no progress for 20 s.
  let stored = await roomMessages(stack.url, room.id);
  let lastProgress = Date.now();
  let had = -1;
  for (;;) {
    const have = clients.reduce((n, c) => n + stored.filter((m) => c.stream.seen.has(m.id)).length, 0);
    if (have === stored.length * clients.length && clients.every((c) => !c.catchingUp)) break;
    if (have > had) {
      had = have;
      lastProgress = Date.now();
    } else if (Date.now() - lastProgress > 20000) break;
    await sleep(1000);
    stored = await roomMessages(stack.url, room.id);
  }
  phase('catchUp');
  return report({ stack, cfg, clients, rest, stored, faults, drained, phases, t0 });
}

function report({ stack, cfg, clients, rest, stored, faults, drained, phases, t0 }) {
  const writers = [...clients, rest];
  const sent = new Set(writers.flatMap((w) => [...w.sent]));
  const acked = new Map(writers.flatMap((w) => [...w.acked]));
  const byCid = new Map();
  for (const m of stored) byCid.set(m.client_id, [...(byCid.get(m.client_id) ?? []), m.id]);
  const storedIds = stored.map((m) => m.id);
  // A refusal is documented when the room had more than --max-replay
  // messages between the offset the client sent and the head when it
  // connected (the session greeting's offset).
  // It is also documented (README, the client contract) when the database
  // was unreachable at that instant: during a PostgreSQL restart, or within
  // PG_SETTLE_MS after it, while each process's connection comes back.
  const PG_SETTLE_MS = 3000;
  const dbDown = (at) => (faults.pgDown ?? []).some((w) => at >= w.from && at <= (w.to ?? Infinity) + PG_SETTLE_MS);
  for (const c of clients)
    for (const r of c.refusals) {
      r.toReplay = Number.isFinite(r.from) && Number.isFinite(r.head) ? storedIds.filter((id) => id > r.from && id <= r.head).length : null;
      r.dbDown = dbDown(r.at);
      r.legit = (r.toReplay !== null && r.toReplay > cfg.maxReplay) || r.dbDown;
    }

  const doubleStored = [...byCid].filter(([, ids]) => ids.length > 1);
  const phantom = stored.filter((m) => !m.client_id || !sent.has(m.client_id));
  const lost = [...acked].filter(([cid]) => !byCid.has(cid));
  const wrongId = [...acked].filter(([cid, id]) => byCid.has(cid) && !byCid.get(cid).includes(id));
  const perClient = clients.map((c) => {
    const missing = storedIds.filter((id) => !c.stream.seen.has(id));
    const dups = c.stream.duplicates;
    return {
      name: c.name,
      transport: c.transport,
      missing: missing.length,
      firstMissing: missing.slice(0, 5),
      outOfOrder: c.stream.outOfOrder.length,
      outOfOrderSample: c.stream.outOfOrder.filter(Boolean),
      duplicates: dups.live + dups.missed + dups.history,
      duplicatesBy: dups,
      appliedBy: c.stream.via,
      reconnects: c.connects - 1,
      recovered: c.recovered,
      refusals: c.refusals.map((r) => ({
        at: `${((r.at - t0) / 1000).toFixed(1)}s`,
        from: r.from,
        head: r.head,
        toReplay: r.toReplay,
        legit: r.legit,
        fallbackBrought: r.lacked,
      })),
      resends: c.resends,
      ackErrors: c.ackErrors,
      connectErrors: c.connectErrors,
    };
  });
  const sum = (f) => perClient.reduce((n, c) => n + f(c), 0);
  const refusals = clients.flatMap((c) => c.refusals);
  const r = {
    backend: stack.label,
    seconds: Math.round(faults.seconds),
    config: cfg,
    faults: { kills: faults.kills, skipped: faults.skipped, freezes: faults.freezes, pgRestarts: faults.pgRestarts, pgErrors: faults.pgErrors },
    acknowledged: acked.size,
    sent: sent.size,
    unacked: sent.size - acked.size,
    drained,
    phases,
    stored: stored.length,
    lost: lost.length,
    doubleStored: doubleStored.length,
    phantom: phantom.length,
    wrongId: wrongId.length,
    clients: {
      count: clients.length,
      missing: sum((c) => c.missing),
      outOfOrder: sum((c) => c.outOfOrder),
      duplicates: sum((c) => c.duplicates),
      duplicatesBy: Object.fromEntries(['live', 'missed', 'history'].map((k) => [k, sum((c) => c.duplicatesBy[k])])),
      reconnects: sum((c) => c.reconnects),
      recoveredTrue: sum((c) => c.recovered.true),
      recoveredFalse: sum((c) => c.recovered.false),
      refusedUnexpected: refusals.filter((x) => x.legit === false).length,
      refusedLegit: refusals.filter((x) => x.legit === true).length,
      refusedDbDown: refusals.filter((x) => x.dbDown).length,
      resends: sum((c) => c.resends) + rest.resends,
    },
    restErrors: rest.errors,
    perClient,
    samples: { lost: lost.slice(0, 5), doubleStored: doubleStored.slice(0, 5), phantom: phantom.slice(0, 5), wrongId: wrongId.slice(0, 5) },
    events: faults.events,
  };
  const f = [];
  if (r.lost) f.push(`${r.lost} acknowledged messages not stored`);
  if (r.doubleStored) f.push(`${r.doubleStored} client_ids stored more than once`);
  if (r.phantom) f.push(`${r.phantom} phantom rows`);
  if (r.wrongId) f.push(`${r.wrongId} acks whose id is not the stored one`);
  if (r.clients.missing) f.push(`clients missing ${r.clients.missing} messages (${perClient.map((c) => c.missing).join(' ')})`);
  if (r.clients.outOfOrder) f.push(`${r.clients.outOfOrder} messages received out of log order`);
  if (r.clients.refusedUnexpected) f.push(`${r.clients.refusedUnexpected} recoveries refused with no documented reason`);
  if (!r.acknowledged) f.push('nothing was acknowledged');
  r.failures = f;
  return r;
}

/* The report in a few lines. */
export function summary(r) {
  const c = r.clients;
  const k = r.faults;
  return [
    `${r.backend}: ${r.seconds} s of faults: ${k.kills.ws} chat-ws kills, ${k.kills.fcgi} chat-fcgi kills, ${k.freezes} freezes, ${k.pgRestarts} PostgreSQL restarts (${k.skipped} skipped)`,
    `  acknowledged ${r.acknowledged}, stored ${r.stored}, lost ${r.lost}, stored twice ${r.doubleStored}, phantom ${r.phantom}, unacked ${r.unacked}`,
    `  ${c.count} clients: missing ${c.missing}, out of order ${c.outOfOrder}, duplicates received ${c.duplicates} (live ${c.duplicatesBy.live}, join's missed ${c.duplicatesBy.missed}, history ${c.duplicatesBy.history}), reconnects ${c.reconnects}`,
    `  recoveries: true ${c.recoveredTrue}, false ${c.recoveredFalse} (no documented reason ${c.refusedUnexpected}, documented ${c.refusedLegit}: database unreachable ${c.refusedDbDown}, the rest over --max-replay); resends ${c.resends}`,
    r.failures.length ? `  FAILED: ${r.failures.join('; ')}` : '  passed',
  ].join('\n');
}

/* Writes the whole report to tests/out/faults-<name>.json; returns the path. */
export function saveReport(name, r) {
  const dir = path.join(ROOT, 'tests/out');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `faults-${name}.json`);
  writeFileSync(file, JSON.stringify(r, null, 1));
  return file;
}
