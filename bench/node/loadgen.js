#!/usr/bin/env node
// Load generator for the whiteboard fan-out benchmark: real socket.io-client 4.8 sockets against the
// hub or the reference server, speaking the same join/stroke protocol.
//
// It is its own process so its CPU is not charged to the server; it measures and reports its own CPU and
// flags any phase where it used more than `saturationPct` of one core, because a saturated load generator
// measures itself, not the server. All latencies are taken on one monotonic clock in this process: the
// sender records when it emitted a stroke id, receivers look the id up.
//
// Usage: node loadgen.js --config-json '<json>'   (or --config <file>); one JSON report on stdout,
// progress on stderr. Modes: "fanout" (rate steps, the ramp stops at the first failing step), "idle"
// (connect, join, hold: RSS per connection) and "replay" (write N strokes, time joins with `since`).
'use strict';

const fs = require('fs');
const crypto = require('crypto');
const { performance } = require('perf_hooks');
const { io } = require('socket.io-client');

const DEFAULTS = {
  mode: 'fanout',
  url: 'http://127.0.0.1:8000',
  rooms: [], // [{ space_id, tokens: [one per client] }]
  senders: 1, // per room; the first `senders` clients of each room send
  steps: [{ rate: 10, duration: 2 }], // rate: strokes/s per room, shared by its senders
  points: 8,
  stopP99Ms: 0, // fanout: stop the ramp after a step over this delivery p99 or with loss (0: never)
  stepRetries: 1, // a failing step is run again this many times before the ramp stops (shared machines)
  drainMs: 3000,
  ackTimeoutMs: 5000,
  connectTimeoutMs: 10000,
  connectConcurrency: 50,
  idleHoldMs: 2000,
  stopServer: false, // idle: SIGTERM the server while every socket is still connected, time its exit
  replay: { events: 1000, joins: 10, window: 32 },
  serverPid: 0,
  auxPids: [], // e.g. the PostgreSQL postmaster: its CPU and its children's count as "aux"
  clkTck: 100,
  saturationPct: 90,
  maxSeconds: 120,
};

function loadConfig(argv) {
  let raw = null;
  for (let i = 0; i < argv.length; i += 2) {
    if (argv[i] === '--config-json') raw = argv[i + 1];
    else if (argv[i] === '--config') raw = fs.readFileSync(argv[i + 1], 'utf8');
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  const cfg = { ...DEFAULTS, ...(raw ? JSON.parse(raw) : {}) };
  cfg.replay = { ...DEFAULTS.replay, ...(cfg.replay || {}) };
  const host = new URL(cfg.url).hostname;
  if (!['127.0.0.1', 'localhost', '[::1]', '::1'].includes(host)) {
    throw new Error('the load generator only talks to loopback addresses');
  }
  return cfg;
}

const log = (...args) => process.stderr.write(`[loadgen] ${args.join(' ')}\n`);
const now = () => performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (x, digits = 2) => (x == null || !Number.isFinite(x) ? null : Number(x.toFixed(digits)));

function summary(values) {
  if (values.length === 0) return { n: 0, p50: null, p99: null, max: null };
  const sorted = Float64Array.from(values).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return { n: sorted.length, p50: round(at(0.5)), p99: round(at(0.99)), max: round(sorted[sorted.length - 1]) };
}

// ---- /proc readings: CPU ticks and RSS of the server (and its auxiliaries) ----

function procStat(pid) {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces; fields are counted after its closing parenthesis.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return null;
  }
}

function rssKb(pid) {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

function treeTicks(roots) {
  // Roots and their direct children (PostgreSQL backends are children of the postmaster).
  if (roots.length === 0) return 0;
  const wanted = new Set(roots.map(Number));
  let total = 0;
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = procStat(name);
    if (st && (wanted.has(Number(name)) || wanted.has(st.ppid))) total += st.ticks;
  }
  return total;
}

class CpuMeter {
  constructor(cfg) {
    this.cfg = cfg;
  }
  start() {
    const server = this.cfg.serverPid ? procStat(this.cfg.serverPid) : null;
    this.t0 = now();
    this.server0 = server ? server.ticks : null;
    this.aux0 = treeTicks(this.cfg.auxPids);
    this.self0 = process.cpuUsage();
  }
  stop() {
    const seconds = (now() - this.t0) / 1000;
    const server = this.cfg.serverPid ? procStat(this.cfg.serverPid) : null;
    const pct = (ticks) => (ticks / this.cfg.clkTck / seconds) * 100;
    const self = process.cpuUsage(this.self0);
    const loadgen = ((self.user + self.system) / 1e6 / seconds) * 100;
    return {
      server_cpu_pct: server && this.server0 != null ? round(pct(server.ticks - this.server0), 1) : null,
      aux_cpu_pct: this.cfg.auxPids.length ? round(pct(treeTicks(this.cfg.auxPids) - this.aux0), 1) : null,
      loadgen_cpu_pct: round(loadgen, 1),
      loadgen_saturated: loadgen > this.cfg.saturationPct,
    };
  }
}

// ---- sockets ----

function connect(cfg, token) {
  return new Promise((resolve, reject) => {
    const socket = io(cfg.url, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      timeout: cfg.connectTimeoutMs,
      auth: { token },
    });
    // The manager's timeout covers the transport only; a server that never answers the namespace
    // CONNECT would otherwise leave this pending for ever.
    const timer = setTimeout(() => done(new Error('connect timeout (no CONNECT answer)')), cfg.connectTimeoutMs);
    const done = (err) => {
      clearTimeout(timer);
      socket.off('connect');
      socket.off('connect_error');
      if (err) {
        socket.close();
        reject(err);
      } else resolve(socket);
    };
    socket.once('connect', () => done(null));
    socket.once('connect_error', (err) => done(err));
  });
}

async function join(cfg, socket, spaceId, since) {
  const payload = since == null ? { space_id: spaceId } : { space_id: spaceId, since };
  const reply = await socket.timeout(cfg.ackTimeoutMs).emitWithAck('join', payload);
  if (!reply || reply.ok !== true) {
    const error = (reply && reply.error) || {};
    throw new Error(`join: ${error.code || 'bad_reply'}${error.message ? ` (${error.message})` : ''}`);
  }
  return reply;
}

// Connect and join every client of every room, `connectConcurrency` at a time.
async function connectAll(cfg, report) {
  const jobs = [];
  cfg.rooms.forEach((room, r) => room.tokens.forEach((token, i) => jobs.push({ r, i, token })));
  const clients = cfg.rooms.map((room) => new Array(room.tokens.length).fill(null));
  const failures = {};
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++];
      try {
        const socket = await connect(cfg, job.token);
        try {
          const reply = await join(cfg, socket, cfg.rooms[job.r].space_id);
          clients[job.r][job.i] = { socket, room: job.r, index: job.i, lastSeq: reply.seq };
        } catch (err) {
          socket.close();
          throw err;
        }
      } catch (err) {
        const code = String((err && err.message) || err).slice(0, 120);
        failures[code] = (failures[code] || 0) + 1;
      }
    }
  };
  const t0 = now();
  // Each room's first client (its owner on the hub) joins first, as when someone opens a board and
  // then shares it; the others then join concurrently.
  const owners = jobs.filter((job) => job.i === 0);
  const rest = jobs.filter((job) => job.i !== 0);
  jobs.length = 0;
  jobs.push(...owners);
  await Promise.all(Array.from({ length: Math.max(1, cfg.connectConcurrency) }, worker));
  jobs.push(...rest);
  await Promise.all(Array.from({ length: Math.max(1, cfg.connectConcurrency) }, worker));
  report.connect_ms = round(now() - t0, 0);
  report.clients_expected = jobs.length;
  report.connected = clients.flat().filter(Boolean).length;
  report.connect_failures = failures;
  return clients;
}

function closeAll(clients) {
  for (const c of clients.flat()) if (c) c.socket.close();
}

function makeStroke(spaceId, points) {
  const pts = [];
  let x = Math.floor(Math.random() * 1000);
  let y = Math.floor(Math.random() * 1000);
  for (let k = 0; k < points; k++) {
    x += Math.floor(Math.random() * 7) - 3;
    y += Math.floor(Math.random() * 7) - 3;
    pts.push([x, y]);
  }
  return { space_id: spaceId, id: crypto.randomUUID(), tool: 'pen', color: '#123456', width: 2, points: pts };
}

// ---- fanout ----

function newStep(rate, duration) {
  return {
    rate, duration, sent: 0, acked: 0, ackErrors: {}, ackLat: [], deliveryLat: [], expected: 0,
    unackedExpected: 0, received: 0, late: 0, duplicates: 0, echoes: 0, outOfOrder: 0,
    t0: 0, sendEnd: 0, lastDelivery: 0, finished: false, onProgress: null,
  };
}

async function runFanout(cfg, report) {
  const clients = await connectAll(cfg, report);
  const rssAfter = cfg.serverPid ? rssKb(cfg.serverPid) : null;
  report.rss_after_connect_kb = rssAfter;
  if (report.connected === 0) throw new Error('no client connected');

  const strokes = new Map(); // id -> { t0, step, room, sender, expected, got }
  const roomSize = clients.map((list) => list.filter(Boolean).length);

  for (const c of clients.flat()) {
    if (!c) continue;
    c.socket.on('stroke', (ev) => {
      const t = now();
      const s = ev && strokes.get(ev.id);
      if (!s) return;
      if (s.room === c.room && s.sender === c.index) {
        s.step.echoes++;
        return;
      }
      if (typeof ev.seq === 'number') {
        if (ev.seq <= c.lastSeq) s.step.outOfOrder++;
        else c.lastSeq = ev.seq;
      }
      s.got++;
      if (s.got > s.expected) {
        s.step.duplicates++;
        return;
      }
      if (s.step.finished) {
        s.step.late++;
        return;
      }
      s.step.received++;
      s.step.deliveryLat.push(t - s.t0);
      s.step.lastDelivery = t;
      if (s.step.onProgress) s.step.onProgress();
    });
  }

  const senders = clients.map((list) => list.filter(Boolean).slice(0, cfg.senders));
  let attempt = 0;
  for (let s = 0; s < cfg.steps.length; s++) {
    const spec = cfg.steps[s];
    const step = newStep(spec.rate, spec.duration);
    const meter = new CpuMeter(cfg);
    meter.start();
    step.t0 = now();
    const sentPerRoom = new Array(clients.length).fill(0);
    const phase = clients.map((_, r) => (r / clients.length) * (1000 / spec.rate));
    const sendOne = (r) => {
      const list = senders[r];
      const sender = list[sentPerRoom[r] % list.length];
      sentPerRoom[r]++;
      const stroke = makeStroke(cfg.rooms[r].space_id, cfg.points);
      const record = { t0: now(), step, room: r, sender: sender.index, expected: roomSize[r] - 1, got: 0 };
      strokes.set(stroke.id, record);
      step.sent++;
      sender.socket.timeout(cfg.ackTimeoutMs).emit('stroke', stroke, (err, reply) => {
        if (err || !reply || reply.ok !== true) {
          const code = err ? 'ack_timeout' : (reply && reply.error && reply.error.code) || 'bad_reply';
          step.ackErrors[code] = (step.ackErrors[code] || 0) + 1;
          step.unackedExpected += record.expected;
        } else {
          step.acked++;
          step.expected += record.expected;
          step.ackLat.push(now() - record.t0);
        }
        if (step.onProgress) step.onProgress();
      });
    };
    await new Promise((resolve) => {
      const timer = setInterval(() => {
        const elapsed = now() - step.t0;
        if (elapsed >= spec.duration * 1000) {
          clearInterval(timer);
          resolve();
          return;
        }
        for (let r = 0; r < clients.length; r++) {
          if (senders[r].length === 0) continue;
          const due = Math.floor(((elapsed - phase[r]) / 1000) * spec.rate);
          // A stalled event loop must not turn into an unbounded burst; the shortfall shows as a lower
          // achieved send rate in the report.
          for (let k = 0; sentPerRoom[r] < due && k < 200; k++) sendOne(r);
        }
      }, 2);
    });
    step.sendEnd = now();
    // Drain: wait until every ack and every expected delivery arrived, or drainMs.
    await new Promise((resolve) => {
      const check = () => {
        const acksIn = step.acked + Object.values(step.ackErrors).reduce((a, b) => a + b, 0);
        if (acksIn === step.sent && step.received >= step.expected) done();
      };
      const timer = setTimeout(() => done(), cfg.drainMs);
      const done = () => {
        clearTimeout(timer);
        step.onProgress = null;
        resolve();
      };
      step.onProgress = check;
      check();
    });
    step.finished = true;
    const cpu = meter.stop();
    const sendSeconds = (step.sendEnd - step.t0) / 1000;
    const activeSeconds = ((step.lastDelivery || step.sendEnd) - step.t0) / 1000;
    const delivery = summary(step.deliveryLat);
    const result = {
      rate_per_room: spec.rate,
      rooms: clients.length,
      duration_s: spec.duration,
      strokes_sent: step.sent,
      send_rate: round(step.sent / sendSeconds, 1),
      acked: step.acked,
      ack_errors: step.ackErrors,
      deliveries_expected: step.expected,
      deliveries_received: step.received,
      loss: Math.max(0, step.expected - step.received),
      duplicates: step.duplicates,
      echoes: step.echoes,
      out_of_order: step.outOfOrder,
      delivery_ms: delivery,
      ack_ms: summary(step.ackLat),
      deliveries_per_s: round(step.received / Math.max(activeSeconds, 1e-3), 0),
      ...cpu,
    };
    result.ok = result.loss === 0 && step.acked === step.sent &&
      (!cfg.stopP99Ms || (delivery.p99 != null && delivery.p99 <= cfg.stopP99Ms));
    result.attempt = attempt + 1;
    report.steps.push(result);
    log(`rate ${spec.rate}/s/room: sent ${step.sent} acked ${step.acked} recv ${step.received}/${step.expected}`,
      `p99 ${delivery.p99} ms, ${result.deliveries_per_s}/s, server ${cpu.server_cpu_pct}%`,
      `loadgen ${cpu.loadgen_cpu_pct}%`);
    // Stroke records of a finished step are only needed to count late arrivals; keep memory bounded.
    if (strokes.size > 500000) strokes.clear();
    if (cfg.stopP99Ms && !result.ok) {
      if (attempt >= cfg.stepRetries) break;
      attempt++;
      s--; // the same rate once more
    } else attempt = 0;
  }
  const passing = report.steps.filter((s) => s.ok);
  report.best = passing.length
    ? passing.reduce((a, b) => (b.deliveries_per_s > a.deliveries_per_s ? b : a))
    : null;
  closeAll(clients);
}

// ---- idle ----

async function runIdle(cfg, report) {
  const meter = new CpuMeter(cfg);
  const clients = await connectAll(cfg, report);
  report.rss_after_connect_kb = cfg.serverPid ? rssKb(cfg.serverPid) : null;
  meter.start();
  await sleep(cfg.idleHoldMs); // the measurement itself: what idle sockets cost over time
  Object.assign(report, meter.stop());
  report.rss_after_hold_kb = cfg.serverPid ? rssKb(cfg.serverPid) : null;
  if (cfg.stopServer && cfg.serverPid) report.shutdown_ms = await timeShutdown(cfg.serverPid, 30000);
  closeAll(clients);
}

// A process that exited but was not reaped yet (its parent, the benchmark, waits later) is a zombie.
function alive(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

// SIGTERM with every socket connected, then the time until the process has exited (null past `limitMs`).
async function timeShutdown(pid, limitMs) {
  const t0 = now();
  process.kill(pid, 'SIGTERM');
  while (alive(pid)) {
    if (now() - t0 > limitMs) return null;
    await sleep(20); // polling /proc, bounded by limitMs
  }
  return round(now() - t0, 0);
}

// ---- replay ----

async function runReplay(cfg, report) {
  const room = cfg.rooms[0];
  if (!room || room.tokens.length < 2) throw new Error('replay needs one room with at least two tokens');
  const writer = await connect(cfg, room.tokens[0]);
  const first = await join(cfg, writer, room.space_id);
  const since = { seq: first.seq, epoch: first.epoch };
  const total = cfg.replay.events;
  let sent = 0;
  let acked = 0;
  const errors = {};
  const t0 = now();
  // A window of strokes in flight: fast, and it never outruns the server's queues.
  await new Promise((resolve) => {
    const pump = () => {
      while (sent < total && sent - acked - Object.values(errors).reduce((a, b) => a + b, 0) < cfg.replay.window) {
        sent++;
        writer.timeout(cfg.ackTimeoutMs).emit('stroke', makeStroke(room.space_id, cfg.points), (err, reply) => {
          if (err || !reply || reply.ok !== true) {
            const code = err ? 'ack_timeout' : (reply && reply.error && reply.error.code) || 'bad_reply';
            errors[code] = (errors[code] || 0) + 1;
          } else acked++;
          const doneCount = acked + Object.values(errors).reduce((a, b) => a + b, 0);
          if (doneCount === total) resolve();
          else pump();
        });
      }
    };
    pump();
  });
  report.write_ms = round(now() - t0, 0);
  report.events_written = acked;
  report.write_errors = errors;
  const timings = [];
  const checks = { recovered: 0, complete: 0, contiguous: 0, failures: {} };
  let payloadBytes = null;
  for (let j = 0; j < cfg.replay.joins; j++) {
    const token = room.tokens[1 + (j % (room.tokens.length - 1))];
    let socket = null;
    try {
      socket = await connect(cfg, token);
      const start = now();
      const reply = await join(cfg, socket, room.space_id, since);
      timings.push(now() - start);
      const events = reply.events || [];
      if (reply.recovered === true) checks.recovered++;
      if (events.length === acked) checks.complete++;
      if (events.every((ev, k) => ev.seq === since.seq + k + 1)) checks.contiguous++;
      if (payloadBytes == null) payloadBytes = Buffer.byteLength(JSON.stringify(reply));
    } catch (err) {
      const code = String((err && err.message) || err);
      checks.failures[code] = (checks.failures[code] || 0) + 1;
    } finally {
      if (socket) socket.close();
    }
  }
  writer.close();
  report.replay_ms = summary(timings);
  report.replay_joins = cfg.replay.joins;
  report.replay_checks = checks;
  report.replay_payload_bytes = payloadBytes;
  report.connected = timings.length + 1;
}

// ---- soak ----
//
// Long-running load over several hubs with faults injected from outside (bench/soak.py restarts Redis
// and SIGKILLs a hub). Unlike the other modes, sockets reconnect on their own: a lost socket tries the
// next URL in `urls` (then the next...) with capped backoff and joins with `since` = the last {seq,
// epoch} up to which it saw every event, as the web client does (web/static/js/realtime.js); strokes
// whose ack never came are sent again with the same id. As the web client too, a seq that stays missing
// for `gapGraceMs` (an event the hub could not fan out: Redis down at publish time, a hub killed
// between commit and broadcast) makes the socket join again from that mark, which replays what it
// missed or answers with a snapshot. Every acked stroke is expected once at every other member of its
// room, live, by replay or in a snapshot; what is missing at the end is loss. Strokes are counted by
// id: the same id again under the same seq (a retry fanned out again) is a redelivery, which clients
// drop; the same id under another seq would be a stroke committed twice, a duplicate.

// As TRANSIENT_ACK_CODES in web/static/js/codes.js: "not now", the stroke is kept and sent again.
const TRANSIENT_CODES = new Set([
  'not_joined', 'not_connected', 'starting', 'unavailable', 'db_unavailable', 'db_timeout', 'db_busy',
  'shutting_down', 'overloaded',
]);

const SOAK_DEFAULTS = {
  urls: [],
  ratePerRoom: 10, // strokes/s per room, shared round-robin by the room's connected members
  duration: 20, // seconds of sending
  windowMs: 5000, // timeline granularity
  maxAttempts: 20, // per stroke
  reconnectMinMs: 200,
  reconnectMaxMs: 2000,
  maxReconnects: 500, // per socket
  gapGraceMs: 1500, // as GAP_GRACE in web/static/js/realtime.js
};

function soakConfig(cfg) {
  const c = { ...SOAK_DEFAULTS, ...cfg };
  if (!Array.isArray(c.urls) || c.urls.length === 0) c.urls = [c.url];
  for (const url of c.urls) {
    const host = new URL(url).hostname;
    if (!['127.0.0.1', 'localhost', '[::1]', '::1'].includes(host)) {
      throw new Error('the load generator only talks to loopback addresses');
    }
  }
  return c;
}

async function runSoak(rawCfg, report) {
  const cfg = soakConfig(rawCfg);
  const strokes = new Map(); // id -> record
  const members = []; // every client
  const rooms = cfg.rooms.map((room, r) => ({ r, spaceId: room.space_id, members: [], next: 0 }));
  const windows = [];
  const totals = {
    sent: 0, resent: 0, acked: 0, ackErrors: {}, gaveUp: 0, live: 0, replayed: 0, snapshotted: 0,
    duplicates: 0, redelivered: 0, replayOverlap: 0, echoes: 0, unknown: 0, reconnects: 0, recoveredJoins: 0,
    snapshotJoins: 0, gapRejoins: 0, gapRecovered: 0, joinErrors: {}, connectErrors: {}, disconnects: {},
    movedHub: 0,
  };
  const allLatencies = [];
  const localLatencies = [];
  const crossLatencies = [];
  const t0 = now();
  const wall0 = Date.now();
  let base = t0; // the timeline starts when sending does
  let stopping = false;
  let inflight = 0;
  const windowAt = (t) => {
    const k = Math.max(0, Math.floor((t - base) / cfg.windowMs));
    while (windows.length <= k) {
      windows.push({ t_s: round((windows.length * cfg.windowMs) / 1000, 1), lat: [], sent: 0, acked: 0,
        ackErrors: 0, disconnects: 0, reconnects: 0, connectedMin: null });
    }
    return windows[k];
  };
  const bump = (obj, key) => { obj[key] = (obj[key] || 0) + 1; };

  // The first seq a stroke id is known under (its ack or any delivery); another one is a duplicate.
  const checkSeq = (s, seq) => {
    if (typeof seq !== 'number') return;
    if (s.seq == null) s.seq = seq;
    else if (s.seq !== seq) totals.duplicates++;
  };

  const markDelivered = (member, id, how, t, seq) => {
    const s = strokes.get(id);
    if (!s) {
      totals.unknown++;
      return;
    }
    if (s.room !== member.room) return;
    checkSeq(s, seq);
    if (s.sender === member.index) {
      if (how === 'live') totals.echoes++;
      return; // a replay or snapshot naturally contains one's own strokes
    }
    if (s.got[member.index]) {
      if (how === 'live' && s.got[member.index] === 1) totals.redelivered++;
      else totals.replayOverlap++;
      return;
    }
    s.got[member.index] = how === 'live' ? 1 : 2;
    if (how === 'live') {
      totals.live++;
      const lat = t - s.t0;
      allLatencies.push(lat);
      // Sent through one hub, received from the other: the delivery crossed Redis.
      (member.urlIndex === s.hub ? localLatencies : crossLatencies).push(lat);
      windowAt(t).lat.push(lat);
    } else if (how === 'replay') totals.replayed++;
    else totals.snapshotted++;
  };

  // The contiguous mark, as Realtime.note in web/static/js/realtime.js: the highest seq up to which
  // this member has seen every event; seqs above it wait in `seen`.
  const advance = (member) => {
    while (member.seen.has(member.mark + 1)) {
      member.mark += 1;
      member.seen.delete(member.mark);
    }
  };

  // Seqs below the highest one seen that this member has not seen. Up to `unacked` of them may be its
  // own strokes, whose seq it learns from their ack: under load an ack can take longer than the grace,
  // and a rejoin per slow ack (with every member of every room doing so) only adds to the load.
  const unexplained = (member) => {
    if (!member.seen.size) return 0;
    return Math.max(...member.seen) - member.mark - member.seen.size - member.unacked;
  };

  // The grace doubles with every gap rejoin of the last 30 s (up to 8x): when the hubs lag, events of
  // the other hub arrive late but arrive, and a rejoin per late event would add to the lag. A lost
  // event still brings a rejoin within seconds.
  const graceMs = (member) => {
    const t = now();
    member.gapRejoinTimes = member.gapRejoinTimes.filter((at) => t - at < 30000);
    return cfg.gapGraceMs * 2 ** Math.min(3, member.gapRejoinTimes.length);
  };

  const armGap = (member) => {
    if (member.seen.size && !member.gapTimer && !stopping) {
      const markAtArm = member.mark;
      member.gapTimer = setTimeout(() => {
        member.gapTimer = null;
        if (!member.seen.size || !member.connected || stopping) return;
        // Still waiting, yet the mark moved (events arrive, late) or the gap may be our own strokes.
        if (member.rejoining || member.mark > markAtArm || unexplained(member) <= 0) armGap(member);
        else gapRejoin(member);
      }, graceMs(member));
    }
  };

  // Every seq a member learns of: live events, and the acks of its own strokes (never echoed to it).
  const note = (member, seq) => {
    if (seq <= member.mark) return;
    member.seen.add(seq);
    advance(member);
    armGap(member);
  };

  // Join again on the same socket from the mark: the hub replays what is missing (or sends a snapshot).
  const gapRejoin = (member) => {
    const socket = member.socket;
    totals.gapRejoins++;
    member.gapRejoinTimes.push(now());
    member.rejoining = true;
    join(cfg, socket, rooms[member.room].spaceId, { seq: member.mark, epoch: member.epoch }).then(
      (reply) => {
        member.rejoining = false;
        if (member.socket !== socket) return; // replaced meanwhile; that join carried its own since
        if (reply.recovered === true) totals.gapRecovered++;
        applyJoin(member, reply, false);
        // As the web client after every join: strokes still waiting for an ack are sent again.
        for (const id of member.pending.splice(0)) sendStroke(member, id);
        armGap(member);
      },
      (err) => {
        member.rejoining = false;
        bump(totals.joinErrors, `gap ${String((err && err.message) || err).slice(0, 60)}`);
        if (member.socket === socket) armGap(member); // try again if the gap is still there
      },
    );
  };

  const onStroke = (member, ev) => {
    const t = now();
    if (!ev || typeof ev.id !== 'string') return;
    markDelivered(member, ev.id, 'live', t, ev.seq);
    if (typeof ev.seq === 'number') note(member, ev.seq);
  };

  const applyJoin = (member, reply, first) => {
    if (first) {
      // A fresh board: nothing to count yet.
    } else if (reply.recovered === true) {
      totals.recoveredJoins++;
      for (const ev of reply.events || []) {
        if (ev && ev.type === 'stroke' && typeof ev.id === 'string') {
          markDelivered(member, ev.id, 'replay', now(), ev.seq);
        }
      }
    } else {
      totals.snapshotJoins++;
      const list = (reply.snapshot && reply.snapshot.strokes) || [];
      for (const st of list) {
        if (st && typeof st.id === 'string') markDelivered(member, st.id, 'snapshot', now(), st.seq);
      }
    }
    // Everything up to reply.seq is now applied (replayed, in the snapshot or seen live before); what
    // arrived live beyond it stays in `seen`. Another epoch: the old seqs mean nothing any more.
    if (reply.epoch !== member.epoch) member.seen.clear();
    member.mark = Math.max(reply.epoch === member.epoch ? member.mark : 0, reply.seq || 0);
    for (const seq of member.seen) if (seq <= member.mark) member.seen.delete(seq);
    advance(member);
    member.epoch = reply.epoch;
  };

  const openMember = async (member, urlIndex, since) => {
    const url = cfg.urls[urlIndex % cfg.urls.length];
    const socket = await connect({ ...cfg, url }, member.token);
    member.stage = `joining ${url}`;
    socket.on('stroke', (ev) => onStroke(member, ev));
    let reply;
    try {
      reply = await join(cfg, socket, rooms[member.room].spaceId, since);
    } catch (err) {
      socket.close();
      throw err;
    }
    member.socket = socket;
    member.urlIndex = urlIndex % cfg.urls.length;
    member.connected = true;
    socket.on('disconnect', (reason) => {
      if (member.socket !== socket) return;
      member.connected = false;
      member.socket = null;
      if (stopping) return;
      bump(totals.disconnects, String(reason));
      windowAt(now()).disconnects++;
      scheduleReconnect(member);
    });
    applyJoin(member, reply, since == null && member.epoch == null);
    if (member.pending.length) {
      const again = member.pending.splice(0);
      for (const id of again) sendStroke(member, id);
    }
  };

  const scheduleReconnect = (member) => {
    if (stopping || member.reconnecting) return;
    member.reconnecting = true;
    const attempt = async (n) => {
      member.attempt = n;
      member.stage = 'connecting';
      if (stopping || n > cfg.maxReconnects) {
        member.reconnecting = false;
        return;
      }
      // The first retry goes to the next hub; a hub that is down refuses at once, so the loop moves on.
      const target = member.urlIndex + n;
      try {
        await openMember(member, target, member.epoch ? { seq: member.mark, epoch: member.epoch } : null);
        member.reconnecting = false;
        totals.reconnects++;
        windowAt(now()).reconnects++;
        if (member.urlIndex !== member.homeIndex) totals.movedHub++;
      } catch (err) {
        const code = String((err && err.message) || err).slice(0, 80);
        member.lastError = code;
        member.stage = 'waiting';
        if (code.startsWith('join')) bump(totals.joinErrors, code);
        else bump(totals.connectErrors, code);
        const delay = Math.min(cfg.reconnectMaxMs, cfg.reconnectMinMs * 2 ** Math.min(n - 1, 8));
        setTimeout(() => attempt(n + 1), delay * (0.5 + Math.random() / 2));
      }
    };
    setTimeout(() => attempt(1), cfg.reconnectMinMs * Math.random());
  };

  // As the web client (web/static/js/whiteboard.js): a stroke whose ack never came, or that was refused
  // with a "not now" code, stays pending and is sent again (same id) after its sender's next join; any
  // other refusal drops it, as the client does after telling its user.
  const sendStroke = (member, id) => {
    const s = strokes.get(id);
    if (!member.connected || !member.socket) {
      member.pending.push(id);
      return;
    }
    s.attempts++;
    if (s.attempts > 1) totals.resent++;
    windowAt(now()).sent++;
    const socket = member.socket;
    inflight++;
    socket.timeout(cfg.ackTimeoutMs).emit('stroke', s.payload, (err, reply) => {
      inflight--;
      if (!err && reply && reply.ok === true) {
        checkSeq(s, reply.seq);
        member.resendDelay = 0;
        if (typeof reply.seq === 'number') note(member, reply.seq);
        if (!s.acked) {
          if (!s.refused && !s.gaveUp) member.unacked--;
          s.acked = true;
          totals.acked++;
          windowAt(now()).acked++;
        }
        return;
      }
      const code = err ? 'ack_timeout' : (reply && reply.error && reply.error.code) || 'bad_reply';
      bump(totals.ackErrors, code);
      windowAt(now()).ackErrors++;
      if (s.acked || stopping) return;
      if (!(err || TRANSIENT_CODES.has(code))) {
        if (!s.refused && !s.gaveUp) member.unacked--;
        s.refused = code;
        return;
      }
      if (s.attempts >= cfg.maxAttempts) {
        if (!s.refused && !s.gaveUp) member.unacked--;
        s.gaveUp = true;
        totals.gaveUp++;
        return;
      }
      // The ack of a socket that has since been replaced: the next join already happened.
      if (member.connected && member.socket !== socket) sendStroke(member, id);
      else {
        member.pending.push(id);
        // Refused for a passing reason on a socket that stays joined: no join will come to resend
        // it, so, as the web client, try again after a pause that grows while the refusals go on.
        if (!err && member.connected) scheduleResend(member);
      }
    });
  };

  const scheduleResend = (member) => {
    if (member.resendTimer || stopping) return;
    member.resendDelay = Math.min(10000, (member.resendDelay || 500) * 2);
    member.resendTimer = setTimeout(() => {
      member.resendTimer = null;
      if (member.connected) for (const id of member.pending.splice(0)) sendStroke(member, id);
    }, member.resendDelay * (0.75 + Math.random() / 2));
  };

  // Connect everyone: each room's first member first (it creates the board), then the rest.
  let k = 0;
  cfg.rooms.forEach((room, r) => room.tokens.forEach((token, i) => {
    const member = { room: r, index: i, token, homeIndex: k % cfg.urls.length, urlIndex: k % cfg.urls.length,
      socket: null, connected: false, reconnecting: false, mark: 0, seen: new Set(), gapTimer: null,
      rejoining: false, gapRejoinTimes: [], unacked: 0, resendTimer: null, resendDelay: 0, epoch: null,
      pending: [] };
    k++;
    members.push(member);
    rooms[r].members.push(member);
  }));
  const failures = {};
  const openAll = async (list) => {
    let next = 0;
    const worker = async () => {
      while (next < list.length) {
        const member = list[next++];
        try {
          await openMember(member, member.homeIndex, null);
        } catch (err) {
          bump(failures, String((err && err.message) || err).slice(0, 120));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, cfg.connectConcurrency) }, worker));
  };
  await openAll(members.filter((m) => m.index === 0));
  await openAll(members.filter((m) => m.index !== 0));
  report.connected = members.filter((m) => m.connected).length;
  report.clients_expected = members.length;
  report.connect_failures = failures;
  report.connect_ms = round(now() - t0, 0);
  if (report.connected !== members.length) throw new Error(`only ${report.connected} of ${members.length} joined`);

  const sendStart = now();
  const cpu0 = process.cpuUsage();
  base = sendStart;
  windows.length = 0;
  report.send_started_unix_ms = Date.now();
  log(JSON.stringify({ phase: 'sending', unix_ms: report.send_started_unix_ms }));
  const sentPerRoom = new Array(rooms.length).fill(0);
  const phase = rooms.map((_, r) => (r / rooms.length) * (1000 / cfg.ratePerRoom));
  let shortfall = 0;
  let lastLog = sendStart;
  let lastCount = 0;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const t = now();
      const elapsed = t - sendStart;
      if (t - lastCount >= 100) {
        lastCount = t;
        const w = windowAt(t);
        const live = members.reduce((a, m) => a + (m.connected ? 1 : 0), 0);
        w.connectedMin = w.connectedMin == null ? live : Math.min(w.connectedMin, live);
      }
      if (t - lastLog > 10000) {
        const live = members.reduce((a, m) => a + (m.connected ? 1 : 0), 0);
        lastLog = t;
        log(JSON.stringify({ phase: 'progress', elapsed_s: round(elapsed / 1000, 0), sent: totals.sent,
          acked: totals.acked, live: totals.live, connected: live, reconnects: totals.reconnects }));
      }
      if (elapsed >= cfg.duration * 1000) {
        clearInterval(timer);
        resolve();
        return;
      }
      for (const room of rooms) {
        const due = Math.floor(((elapsed - phase[room.r]) / 1000) * cfg.ratePerRoom);
        for (let n = 0; sentPerRoom[room.r] < due && n < 200; n++) {
          sentPerRoom[room.r]++;
          // The next connected member in turn sends; a room with nobody connected skips its turn.
          let sender = null;
          for (let j = 0; j < room.members.length && !sender; j++) {
            const m = room.members[(room.next + j) % room.members.length];
            if (m.connected) sender = m;
          }
          room.next++;
          if (!sender) {
            shortfall++;
            continue;
          }
          const payload = makeStroke(room.spaceId, cfg.points);
          strokes.set(payload.id, { t0: now(), room: room.r, sender: sender.index, hub: sender.urlIndex, payload, attempts: 0,
            acked: false, got: new Uint8Array(room.members.length) });
          totals.sent++;
          sender.unacked++;
          sendStroke(sender, payload.id);
        }
      }
    }, 2);
  });
  const sendEnd = now();
  const cpu = process.cpuUsage(cpu0);
  report.loadgen_cpu_pct = round(((cpu.user + cpu.system) / 1e3 / (sendEnd - sendStart)) * 100, 1);
  log(JSON.stringify({ phase: 'draining', sent: totals.sent, acked: totals.acked }));

  // Drain: every stroke acked or given up, every member connected, every acked stroke at every member.
  const missing = () => {
    let n = 0;
    for (const s of strokes.values()) {
      if (!s.acked) continue;
      for (let i = 0; i < s.got.length; i++) if (i !== s.sender && !s.got[i]) n++;
    }
    return n;
  };
  const settled = () => inflight === 0 && members.every((m) => m.connected && m.pending.length === 0);
  const drainDeadline = now() + cfg.drainMs;
  while (now() < drainDeadline) {
    if (settled() && missing() === 0) break;
    await sleep(100); // polling our own counters; bounded by drainMs
  }
  stopping = true;
  const drainEnd = now();

  let expected = 0;
  let unacked = 0;
  const refused = {};
  let deliveredUnacked = 0;
  const lostByRoom = {};
  const lostSamples = [];
  for (const [id, s] of strokes) {
    if (!s.acked) {
      unacked++;
      if (s.refused) bump(refused, s.refused);
      for (let i = 0; i < s.got.length; i++) if (s.got[i]) deliveredUnacked++;
      continue;
    }
    for (let i = 0; i < s.got.length; i++) {
      if (i === s.sender) continue;
      expected++;
      if (!s.got[i]) {
        lostByRoom[s.room] = (lostByRoom[s.room] || 0) + 1;
        if (lostSamples.length < 20) {
          const m = rooms[s.room].members[i];
          lostSamples.push({ id, room: s.room, member: i, member_hub: m.urlIndex, sender: s.sender,
            sent_at_s: round((s.t0 - sendStart) / 1000, 1), attempts: s.attempts });
        }
      }
    }
  }
  const lost = missing();
  Object.assign(report, {
    rooms: rooms.length,
    clients: members.length,
    rate_per_room: cfg.ratePerRoom,
    duration_s: cfg.duration,
    send_seconds: round((sendEnd - sendStart) / 1000, 1),
    drain_seconds: round((drainEnd - sendEnd) / 1000, 1),
    strokes_sent: totals.sent,
    send_shortfall: shortfall,
    resends: totals.resent,
    acked: totals.acked,
    unacked,
    refused,
    gave_up: totals.gaveUp,
    ack_errors: totals.ackErrors,
    deliveries_expected: expected,
    delivered_live: totals.live,
    delivered_by_replay: totals.replayed,
    delivered_by_snapshot: totals.snapshotted,
    delivered_unacked: deliveredUnacked,
    lost,
    lost_by_room: lostByRoom,
    lost_samples: lostSamples,
    duplicates: totals.duplicates,
    redelivered: totals.redelivered,
    replay_overlap: totals.replayOverlap,
    echoes: totals.echoes,
    unknown_events: totals.unknown,
    deliveries_per_s: round(totals.live / Math.max((sendEnd - sendStart) / 1000, 1e-3), 0),
    delivery_ms: summary(allLatencies),
    delivery_ms_same_hub: summary(localLatencies),
    delivery_ms_cross_hub: summary(crossLatencies),
    reconnects: totals.reconnects,
    moved_hub: totals.movedHub,
    recovered_joins: totals.recoveredJoins,
    snapshot_joins: totals.snapshotJoins,
    gap_rejoins: totals.gapRejoins,
    gap_rejoins_recovered: totals.gapRecovered,
    join_errors: totals.joinErrors,
    connect_errors: totals.connectErrors,
    disconnects: totals.disconnects,
    connected_at_end: members.filter((m) => m.connected).length,
    not_connected_at_end: members.filter((m) => !m.connected).slice(0, 10).map((m) => ({ room: m.room,
      index: m.index, hub: m.urlIndex, reconnecting: m.reconnecting, attempt: m.attempt, stage: m.stage,
      last_error: m.lastError })),
    members_per_hub_at_end: cfg.urls.map((_, u) => members.filter((m) => m.connected && m.urlIndex === u).length),
    wall_start_unix_ms: wall0,
    timeline: windows.map((w) => ({ t_s: w.t_s, sent: w.sent, acked: w.acked, ack_errors: w.ackErrors,
      disconnects: w.disconnects, reconnects: w.reconnects, connected_min: w.connectedMin,
      delivery_ms: summary(w.lat) })),
  });
  for (const m of members) {
    clearTimeout(m.gapTimer);
    clearTimeout(m.resendTimer);
    if (m.socket) m.socket.close();
  }
}

// ---- main ----

async function main() {
  const cfg = loadConfig(process.argv.slice(2));
  const report = {
    mode: cfg.mode, url: cfg.url, rooms: cfg.rooms.length,
    clients_per_room: cfg.rooms.length ? cfg.rooms[0].tokens.length : 0, senders_per_room: cfg.senders,
    rss_before_kb: cfg.serverPid ? rssKb(cfg.serverPid) : null, steps: [], error: null,
  };
  const deadline = setTimeout(() => {
    report.error = `deadline: more than ${cfg.maxSeconds}s`;
    process.stdout.write(JSON.stringify(report) + '\n');
    process.exit(3);
  }, cfg.maxSeconds * 1000);
  try {
    if (cfg.mode === 'fanout') await runFanout(cfg, report);
    else if (cfg.mode === 'idle') await runIdle(cfg, report);
    else if (cfg.mode === 'replay') await runReplay(cfg, report);
    else if (cfg.mode === 'soak') await runSoak(cfg, report);
    else throw new Error(`unknown mode ${cfg.mode}`);
  } catch (err) {
    report.error = String((err && err.message) || err);
  }
  const after = report.rss_after_hold_kb ?? report.rss_after_connect_kb;
  if (report.rss_before_kb != null && after != null && report.connected) {
    report.rss_per_conn_kb = round((after - report.rss_before_kb) / report.connected, 2);
  }
  clearTimeout(deadline);
  process.stdout.write(JSON.stringify(report) + '\n');
  process.exit(report.error ? 1 : 0);
}

main().catch((err) => {
  process.stderr.write(`[loadgen] fatal: ${err && err.stack ? err.stack : err}\n`);
  process.exit(2);
});
