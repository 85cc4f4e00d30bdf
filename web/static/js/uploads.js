// The upload engine: bytes go straight from the browser to the blob store's presigned URLs (the hub
// never proxies them). Small files go up in one request; big ones in parts, a few at a time, each
// part retried with backoff and a freshly signed URL. The parts already in the store survive a
// failure or a reload, so an interrupted upload resumes with the others. No DOM here: callers pass
// a `show(bytesSent)` callback and own whatever displays it.
import * as api from "./api.js";

const PART_BATCH = 8; // part URLs requested per round trip
const PARALLEL_PARTS = 3;
const PART_ATTEMPTS = 4; // per part, before the upload stops and offers "Resume"
const PART_RETRY_MS = 500; // first retry delay, doubled each time, with jitter

// -- resume records ------------------------------------------------------------------------------

// What identifies the bytes of an interrupted upload when the same file is chosen again after a
// reload: the name and size the hub knows, plus the modification time this browser saw.
const recordKey = (fileId) => `hub.upload.${fileId}`;

export function remember(fileId, file) {
  try {
    localStorage.setItem(recordKey(fileId), JSON.stringify({ modified: file.lastModified }));
  } catch {
    // Private mode or a full storage: resuming then checks name and size only.
  }
}

export const forget = (fileId) => localStorage.removeItem(recordKey(fileId));

/** Whether `file` is plausibly the one the interrupted upload `record` (from the hub) was sending. */
export function sameFile(record, file) {
  if (file.size !== record.size || file.name !== record.filename) return false;
  try {
    const seen = JSON.parse(localStorage.getItem(recordKey(record.id)) || "null");
    return !seen || seen.modified === file.lastModified;
  } catch {
    return true;
  }
}

// -- the hub's side of an upload -----------------------------------------------------------------

/** POST {base} -> {file_id, upload} or {file_id, multipart: {part_size, part_count}}. */
export const create = (base, file) => api.post(base, {
  filename: file.name, size: file.size, content_type: file.type || "application/octet-stream",
});

export const complete = (fileId) => api.post(`/files/${fileId}/complete`);

/** Abandons the upload and frees its parts; best effort, the hub expires it anyway. */
export const abort = (fileId) => {
  api.post(`/files/${fileId}/abort`).catch(() => {});
};

/** My unfinished uploads in a space (GET /spaces/{id}/uploads). */
export const unfinished = async (spaceId) =>
  (await api.get(`/spaces/${encodeURIComponent(spaceId)}/uploads?limit=100`)).items;

/** GET /files/{id}/parts: the plan of a multipart upload and the part numbers the store holds in full. */
export async function resumeState(fileId, fileSize) {
  const listed = await api.get(`/files/${fileId}/parts`);
  return { plan: { part_size: listed.part_size, part_count: listed.part_count }, stored: storedParts(listed, fileSize) };
}

function storedParts(listed, fileSize) {
  const size = listed.part_size;
  const expected = (n) => Math.min(size, fileSize - (n - 1) * size);
  return new Set(listed.parts.filter((p) => p.size === expected(p.part_number)).map((p) => p.part_number));
}

// -- sending bytes -------------------------------------------------------------------------------

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// Worth another try: no answer at all (status 0), an expired or refused signature, a busy store.
const retryable = (status) => status === 0 || status === 403 || status === 408 || status === 429 || status >= 500;

/** One XHR (fetch has no upload progress). Resolves with the response's ETag header. */
function send(method, url, body, headers, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [k, v] of Object.entries(headers || {})) xhr.setRequestHeader(k, v);
    xhr.upload.addEventListener("progress", (e) => onProgress(e.loaded));
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(null);
        resolve(xhr.getResponseHeader("ETag"));
      } else {
        let message = `The upload failed (${xhr.status}).`;
        try {
          message = JSON.parse(xhr.responseText).error.message || message;
        } catch {
          // S3 answers XML; the status is the useful part.
        }
        reject(Object.assign(new Error(message), { status: xhr.status }));
      }
    });
    xhr.addEventListener("error", () => reject(Object.assign(new Error("The upload was interrupted."), { status: 0 })));
    xhr.addEventListener("abort", () => reject(Object.assign(new Error("The upload was cancelled."), { status: -1 })));
    xhr.send(body);
  });
}

/** A file in one request to the presigned `upload` ({method, url, fields | headers}). */
export async function sendSingle(upload, file, show) {
  if (upload.method === "POST") {
    // Presigned POST: policy fields first, the file last (S3 ignores fields after it).
    const form = new FormData();
    for (const [k, v] of Object.entries(upload.fields)) form.append(k, v);
    form.append("file", file);
    await send("POST", upload.url, form, {}, (n) => show(n === null ? file.size : Math.min(n, file.size)));
  } else {
    await send("PUT", upload.url, file, upload.headers, (n) => show(n === null ? file.size : n));
  }
}

/** Sends every part not in `stored` (part numbers already in the store), a few at a time. */
export async function sendParts(fileId, file, plan, show, stored) {
  const { part_size: size, part_count: count } = plan;
  const done = new Array(count + 1).fill(0);
  const todo = [];
  for (let n = 1; n <= count; n += 1) {
    if (stored.has(n)) done[n] = Math.min(size, file.size - (n - 1) * size);
    else todo.push(n);
  }
  const report = () => show(done.reduce((a, b) => a + b, 0));
  report();
  for (let first = 0; first < todo.length; first += PART_BATCH) {
    const numbers = todo.slice(first, first + PART_BATCH);
    const { parts } = await api.post(`/files/${fileId}/parts`, { part_numbers: numbers });
    const queue = [...parts];
    const worker = async () => {
      for (let part = queue.shift(); part; part = queue.shift()) {
        await sendPart(fileId, file, size, part, (n) => {
          done[part.part_number] = n;
          report();
        });
      }
    };
    await Promise.all(Array.from({ length: PARALLEL_PARTS }, worker));
  }
}

/** One part, retried with backoff and a freshly signed URL when the network or the store hiccups. */
async function sendPart(fileId, file, size, part, progressed) {
  const start = (part.part_number - 1) * size;
  const blob = file.slice(start, Math.min(file.size, start + size));
  for (let attempt = 1; ; attempt += 1) {
    try {
      await send("PUT", part.url, blob, part.headers, (n) => progressed(n === null ? blob.size : n));
      return;
    } catch (e) {
      progressed(0);
      if (attempt >= PART_ATTEMPTS || !retryable(e.status)) throw e;
      await sleep(PART_RETRY_MS * 2 ** (attempt - 1) * (0.5 + Math.random() / 2));
      // The old URL may have expired while we waited.
      [part] = (await api.post(`/files/${fileId}/parts`, { part_numbers: [part.part_number] })).parts;
    }
  }
}
