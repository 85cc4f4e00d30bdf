#!/usr/bin/env node
// Reference whiteboard server: the hub's join/stroke Socket.IO protocol, in memory, on socket.io 4.8.
//
// It is the yardstick for bench/run.py, so it does what the protocol needs and nothing more: no
// persistence, no real authentication (any non-empty token is accepted), one process. Whatever the hub
// costs beyond this is the price of durability, authorization and Python, and the benchmark shows it.
//
// Usage: node server.js [--port 0] [--host 127.0.0.1] [--replay-max 2000]
// Prints one JSON line {"event":"listening","port":N,"pid":P} on stdout once it accepts connections.
'use strict';

const http = require('http');
const { Server } = require('socket.io');

function parseArgs(argv) {
  const opts = { port: 0, host: '127.0.0.1', replayMax: 2000, maxPoints: 5000 };
  for (let i = 0; i < argv.length; i += 2) {
    const [key, value] = [argv[i], argv[i + 1]];
    if (key === '--port') opts.port = Number(value);
    else if (key === '--host') opts.host = value;
    else if (key === '--replay-max') opts.replayMax = Number(value);
    else if (key === '--max-points') opts.maxPoints = Number(value);
    else throw new Error(`unknown argument ${key}`);
  }
  if (!['127.0.0.1', '::1', 'localhost'].includes(opts.host)) {
    throw new Error('the reference server listens on loopback only');
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const COLOR = /^#[0-9a-fA-F]{6}$/;
const TOOLS = new Set(['pen', 'highlighter', 'eraser']);

// space_id -> { seq, epoch, log: events after the last prune, strokes: the board, presence }
const rooms = new Map();

function room(spaceId) {
  let r = rooms.get(spaceId);
  if (!r) {
    r = { seq: 0, epoch: Math.random().toString(36).slice(2, 10), log: [], strokes: [], presence: new Map() };
    rooms.set(spaceId, r);
  }
  return r;
}

function fail(ack, code, message) {
  if (typeof ack === 'function') ack({ ok: false, error: { code, message } });
}

function validPoints(points) {
  if (!Array.isArray(points) || points.length === 0 || points.length > opts.maxPoints) return false;
  for (const p of points) {
    if (!Array.isArray(p) || p.length !== 2 || !Number.isFinite(p[0]) || !Number.isFinite(p[1])) return false;
  }
  return true;
}

const httpServer = http.createServer((req, res) => {
  res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'application/json' });
  res.end(req.url === '/healthz' ? '{"status":"ok"}' : '{"error":{"code":"not_found"}}');
});

// Same limits as the hub's defaults (HUB_WS_MAX_MESSAGE_BYTES, no permessage-deflate).
const io = new Server(httpServer, {
  maxHttpBufferSize: 65536,
  perMessageDeflate: false,
  transports: ['websocket', 'polling'],
});

io.use((socket, next) => {
  const token = socket.handshake.auth && socket.handshake.auth.token;
  if (typeof token !== 'string' || token.length === 0) return next(new Error('token_invalid'));
  socket.data.user = { user_id: token, display_name: token.slice(0, 16) };
  next();
});

io.on('connection', (socket) => {
  socket.on('join', (payload, ack) => {
    if (!payload || typeof payload.space_id !== 'string' || payload.space_id.length === 0) {
      return fail(ack, 'validation_error', 'space_id is required');
    }
    const r = room(payload.space_id);
    socket.join(payload.space_id);
    r.presence.set(socket.id, socket.data.user);
    const reply = { ok: true, seq: r.seq, epoch: r.epoch, recovered: false, presence: [...r.presence.values()] };
    // `since` is a position {seq, epoch} from an earlier ack or event; another epoch means that
    // history is gone, so the client gets the snapshot instead, as the hub does.
    const since = payload.since;
    const oldest = r.seq - r.log.length; // events after `oldest` are still in the log
    if (since && since.epoch === r.epoch && Number.isInteger(since.seq) && since.seq >= oldest &&
        since.seq <= r.seq) {
      reply.recovered = true;
      reply.events = r.log.slice(r.log.length - (r.seq - since.seq));
    } else {
      reply.snapshot = { strokes: r.strokes };
    }
    if (typeof ack === 'function') ack(reply);
  });

  socket.on('stroke', (p, ack) => {
    if (!p || typeof p.space_id !== 'string' || !socket.rooms.has(p.space_id)) {
      return fail(ack, 'not_found', 'join the space first');
    }
    if (typeof p.id !== 'string' || p.id.length === 0 || p.id.length > 64 || !TOOLS.has(p.tool) ||
        typeof p.color !== 'string' || !COLOR.test(p.color) ||
        typeof p.width !== 'number' || !(p.width > 0 && p.width <= 100) || !validPoints(p.points)) {
      return fail(ack, 'validation_error', 'invalid stroke');
    }
    const r = room(p.space_id);
    const event = {
      type: 'stroke', space_id: p.space_id, id: p.id, tool: p.tool, color: p.color, width: p.width,
      points: p.points, seq: ++r.seq, author: socket.data.user.user_id,
    };
    r.log.push(event);
    r.strokes.push(event);
    if (r.log.length > opts.replayMax) r.log.splice(0, r.log.length - opts.replayMax);
    socket.to(p.space_id).emit('stroke', event);
    if (typeof ack === 'function') ack({ ok: true, seq: event.seq });
  });

  socket.on('disconnecting', () => {
    for (const spaceId of socket.rooms) {
      const r = rooms.get(spaceId);
      if (r) r.presence.delete(socket.id);
    }
  });
});

function shutdown() {
  io.close();
  httpServer.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

httpServer.listen(opts.port, opts.host, () => {
  const { port } = httpServer.address();
  process.stdout.write(JSON.stringify({ event: 'listening', port, pid: process.pid }) + '\n');
});
