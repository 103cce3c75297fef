// nemesis.mjs -- the fault checker's faults, one every `every` seconds for
// `seconds`: SIGKILL of chat-ws processes (the same one several times in a
// row: the sockets that just recovered on it lose it again) and of
// chat-fcgi, a chat-ws frozen with SIGSTOP for longer than the ping timeout
// and then SIGCONT, and on PostgreSQL a restart of the server.
//
// targets: { ws: [{ name, pidFile, port }], fcgi: [{ name, pidFile, port? }],
//            pgRestart: async function or null }
// The runner restarts what was killed; a kill waits (up to 8 s) for its
// victim to be back, else it is skipped and counted.
import { readFileSync } from 'node:fs';
import { portOpen } from '../../integration/lib/stack.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function readPid(file) {
  try {
    const n = parseInt(readFileSync(file, 'utf8'), 10);
    return n > 0 ? n : null;
  } catch {
    return null;
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/* The pid of a target once it is up (alive, not `notPid`, its port open),
 * or null after ms. */
async function upPid(target, notPid, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const pid = readPid(target.pidFile);
    if (pid && pid !== notPid && alive(pid)) {
      if (!target.port || (await portOpen(target.port, 500))) return pid;
    }
    await sleep(50);
  }
  return null;
}

/* One cycle of ten steps; A, B and C are the chat-ws processes, rotated by
 * one each cycle. */
function step(k, nWs, pg) {
  const cycle = Math.floor(k / 10);
  const [a, b, c] = [cycle % nWs, (cycle + 1) % nWs, (cycle + 2) % nWs];
  switch (k % 10) {
    case 0:
    case 1:
    case 2:
    case 8:
      return { kill: 'ws', i: a };
    case 3:
      return { kill: 'fcgi', i: cycle };
    case 4:
      return { freeze: b };
    case 5:
    case 6:
    case 9:
      return { kill: 'ws', i: c };
    default:
      return pg ? { pg: true } : { kill: 'fcgi', i: cycle + 1 };
  }
}

export async function nemesis({ targets, seconds, every, freezeMs, log = () => {} }) {
  const t0 = Date.now();
  const stats = { kills: { ws: 0, fcgi: 0 }, skipped: 0, freezes: 0, pgRestarts: 0, pgErrors: 0, events: [], pgDown: [] };
  const note = (what) => {
    const line = `${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`;
    stats.events.push(line);
    log(line);
  };
  const lastKilled = new Map(); // name -> pid
  let frozen = null; // { target, pid, until }
  const thaw = () => {
    if (!frozen) return;
    try {
      process.kill(frozen.pid, 'SIGCONT');
    } catch {
      /* gone */
    }
    note(`SIGCONT ${frozen.target.name} (pid ${frozen.pid})`);
    frozen = null;
  };
  try {
    for (let k = 0; Date.now() - t0 < seconds * 1000; k++) {
      const tick = t0 + (k + 1) * every * 1000;
      while (Date.now() < tick) {
        if (frozen && Date.now() >= frozen.until) thaw();
        await sleep(Math.min(100, Math.max(0, tick - Date.now())));
      }
      if (frozen && Date.now() >= frozen.until) thaw();
      const s = step(k, targets.ws.length, Boolean(targets.pgRestart));
      if (s.pg) {
        note('PostgreSQL restart');
        const down = { from: Date.now(), to: null }; // when the database was unreachable
        stats.pgDown.push(down);
        try {
          await targets.pgRestart();
          stats.pgRestarts++;
          note('PostgreSQL back');
        } catch (e) {
          stats.pgErrors++;
          note(`PostgreSQL restart failed: ${e.message}`);
        }
        down.to = Date.now();
        continue;
      }
      if (s.freeze !== undefined) {
        if (frozen) continue;
        const target = targets.ws[s.freeze];
        const pid = await upPid(target, null, 8000);
        if (!pid) {
          stats.skipped++;
          continue;
        }
        process.kill(pid, 'SIGSTOP');
        frozen = { target, pid, until: Date.now() + freezeMs };
        stats.freezes++;
        note(`SIGSTOP ${target.name} (pid ${pid}) for ${freezeMs} ms`);
        continue;
      }
      const list = targets[s.kill];
      let target = list[s.i % list.length];
      if (frozen?.target === target) target = targets.ws[(s.i + 1) % targets.ws.length];
      const pid = await upPid(target, lastKilled.get(target.name), 8000);
      if (!pid) {
        stats.skipped++;
        note(`${target.name} not back in 8 s: no kill`);
        continue;
      }
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        stats.skipped++;
        continue;
      }
      lastKilled.set(target.name, pid);
      stats.kills[s.kill]++;
      note(`SIGKILL ${target.name} (pid ${pid})`);
    }
  } finally {
    while (frozen && Date.now() < frozen.until) await sleep(100);
    thaw();
  }
  // Everything back before the checks.
  for (const target of [...targets.ws, ...targets.fcgi]) {
    if (!(await upPid(target, lastKilled.get(target.name), 30000))) note(`${target.name} did not come back in 30 s`);
  }
  stats.seconds = (Date.now() - t0) / 1000;
  return stats;
}
