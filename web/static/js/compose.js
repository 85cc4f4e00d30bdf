// The compose form on Home: text with its character count, visibility, up to four images sent
// straight to the store (README "Media for posts and avatars": a presigned POST, then complete), then
// POST /posts. One Idempotency-Key per compose: a retry after a lost answer sends the same key and
// gets the first post back instead of a duplicate; changing what is posted takes a fresh key.
import * as api from "./api.js";
import * as codes from "./codes.js";
import { h, clear, uid, bytes } from "./dom.js";
import * as posts from "./posts.js";
import * as social from "./social.js";
import * as uploads from "./uploads.js";
import { errorBox, toast } from "./ui.js";

const IMAGE_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp"];

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // randomUUID needs a secure context; a hub reached over plain http by address still gets a v4 UUID.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** One image of the compose: uploads itself at once, shows progress, can be removed. */
function attachment(file, { onChange }) {
  const preview = URL.createObjectURL(file);
  const bar = h("progress", { max: file.size, value: 0, "aria-label": `Uploading ${file.name}` });
  const state = h("span.meta.attachment-state", { "aria-live": "polite" }, "Uploading…");
  const item = { file, mediaId: null, ready: false, failed: false, removed: false };
  // Best effort: media that no post uses is deleted by the hub's sweeper anyway.
  const discard = () => {
    if (item.mediaId) api.del(`/media/${encodeURIComponent(item.mediaId)}`).catch(() => {});
  };
  item.release = () => URL.revokeObjectURL(preview);
  const removeButton = h("button.small", {
    type: "button", "aria-label": `Remove ${file.name}`,
    onclick: () => {
      item.removed = true;
      item.release();
      item.el.remove();
      discard();
      onChange();
    },
  }, "Remove");
  item.el = h("li.attachment", { dataset: { state: "uploading" } },
    h("img", { src: preview, alt: file.name }), h("div.attachment-info", {}, h("span", {}, file.name), bar, state),
    removeButton);
  const set = (name, text) => {
    item.el.dataset.state = name;
    state.textContent = text;
  };
  item.done = (async () => {
    try {
      const created = await api.post("/media/upload", { filename: file.name, size: file.size, content_type: file.type });
      item.mediaId = created.media_id;
      // Removed while it was being created: the click found no id to delete, so delete it here.
      if (item.removed) return discard();
      await uploads.sendSingle(created.upload, file, (n) => {
        bar.value = n;
        state.textContent = `${bytes(n)} of ${bytes(file.size)}`;
      });
      if (item.removed) return undefined;
      await api.post(`/media/upload/${encodeURIComponent(created.media_id)}/complete`);
      item.ready = true;
      bar.hidden = true;
      set("ready", "Ready");
    } catch (e) {
      item.failed = true;
      set("failed", e instanceof api.ApiError ? api.describe(e) : e.message || "The upload failed.");
    } finally {
      if (!item.removed) onChange();
    }
  })();
  return item;
}

/** The compose card; `onPosted(post)` puts the new post where the page shows it. */
export function composeForm({ onPosted }) {
  const id = uid("p");
  const countId = uid("p");
  const fileId = uid("p");
  const visId = uid("p");
  const error = errorBox();
  const text = h("textarea.post-input", {
    id, name: "text", rows: 3, placeholder: "What are you working on?", "aria-describedby": countId,
  });
  const count = h("span.post-count", { id: countId, "aria-live": "polite" });
  const visibility = h("select", { id: visId, name: "visibility" },
    h("option", { value: "public" }, "Public"),
    h("option", { value: "unlisted" }, "Unlisted (not in search)"),
    h("option", { value: "followers" }, "Followers only"));
  const picker = h("input.visually-hidden", { id: fileId, type: "file", accept: IMAGE_TYPES.join(","), multiple: true });
  const add = h("label.button.small", { for: fileId }, "Add images");
  const list = h("ul.attachments", { "aria-label": "Images" });
  const send = h("button.primary", { type: "submit" }, "Post");
  let items = [];
  let key = newKey();
  let sending = false;

  const refresh = () => {
    items = items.filter((i) => !i.removed);
    const n = social.chars(text.value);
    count.textContent = `${n} / ${posts.POST_MAX}`;
    count.dataset.over = String(n > posts.POST_MAX);
    text.setCustomValidity(n > posts.POST_MAX ? `A post has at most ${posts.POST_MAX} characters.` : "");
    const full = items.length >= posts.MEDIA_MAX;
    picker.disabled = full;
    add.hidden = full;
    const busy = items.some((i) => !i.ready && !i.failed);
    send.disabled = sending || busy || items.some((i) => i.failed) || (!text.value.trim() && !items.length);
  };
  const changed = () => {
    key = newKey();
    refresh();
  };

  text.addEventListener("input", changed);
  visibility.addEventListener("change", changed);
  picker.addEventListener("change", () => {
    const files = [...picker.files];
    picker.value = "";
    error.show("");
    for (const file of files) {
      if (items.length >= posts.MEDIA_MAX) {
        error.show(`A post has at most ${posts.MEDIA_MAX} images.`);
        break;
      }
      if (!IMAGE_TYPES.includes(file.type)) {
        error.show(`${file.name}: only PNG, JPEG, GIF and WebP images can be posted.`);
        continue;
      }
      const item = attachment(file, { onChange: changed });
      items.push(item);
      list.append(item.el);
    }
    changed();
  });

  const el = h("form.card.compose", { "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title` }, "New post"),
    h("div.field", {}, h("label.visually-hidden", { for: id }, "Post text"), text, count),
    list,
    error,
    h("div.actions.compose-actions", {}, picker, add,
      h("label", { for: visId }, "Visible to"), visibility, send));
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!el.reportValidity()) return;
    error.show("");
    sending = true;
    refresh();
    try {
      const post = await posts.create({
        text: text.value, visibility: visibility.value, media: items.map((i) => i.mediaId),
      }, key);
      text.value = "";
      for (const i of items) {
        i.release();
        i.el.remove();
      }
      items = [];
      clear(list);
      key = newKey();
      toast("Posted.");
      onPosted(post);
    } catch (e) {
      // The same compose sent again keeps its key (a lost answer must not post twice); a key the hub
      // saw with another body is spent.
      if (e instanceof api.ApiError && e.code === codes.IDEMPOTENCY_KEY_REUSED) key = newKey();
      error.show(api.describe(e));
    } finally {
      sending = false;
      refresh();
    }
  });
  refresh();
  return el;
}
