// Posts, likes and comments over the REST API (README "Posts, likes and comments"), and the post card
// every list shows: author, text with its mentions and hashtags as links, images, time, like, comments,
// edit/delete for the author and Report for everyone else with an account. A post the hub answers 404
// post_not_found for (deleted, or hidden from us by a block or its visibility) leaves the list it was
// in. Only its author still gets a post or comment a moderator took down, marked removed with the reason.
import * as api from "./api.js";
import * as codes from "./codes.js";
import { h, clear, dateTime, timeAgo, uid } from "./dom.js";
import { icon } from "./icons.js";
import * as moderation from "./moderation.js";
import * as session from "./session.js";
import * as social from "./social.js";
import { confirmDialog, errorBox, toast } from "./ui.js";

const enc = encodeURIComponent;

/** The hub's limits, in characters as it counts them (code points). */
export const POST_MAX = 5000;
export const COMMENT_MAX = 2000;
export const MEDIA_MAX = 4;

export const create = (body, idempotencyKey) =>
  api.post("/posts", body, { headers: { "Idempotency-Key": idempotencyKey } });
export const update = (postId, changes) => api.patch(`/posts/${enc(postId)}`, changes);
export const remove = (postId) => api.del(`/posts/${enc(postId)}`);
export const like = (postId) => api.post(`/posts/${enc(postId)}/like`);
export const unlike = (postId) => api.del(`/posts/${enc(postId)}/like`);
export const comment = (postId, text) => api.post(`/posts/${enc(postId)}/comment`, { text });
export const removeComment = (postId, commentId) => api.del(`/posts/${enc(postId)}/comments/${enc(commentId)}`);
export const userPostsPath = (userId) => `/users/${enc(userId)}/posts`;

export const isPostGone = (error) => error instanceof api.ApiError && error.code === codes.POST_NOT_FOUND;
const isCommentGone = (error) => error instanceof api.ApiError && error.code === codes.COMMENT_NOT_FOUND;

// The hub's own patterns (hub/services/posts_input.py); only what it stored becomes a link, so a
// mention of an account that does not exist (or blocks the author) stays text.
const TOKENS = /(?<![\w@.\-/])@([A-Za-z0-9][A-Za-z0-9_.-]{2,31})(?![\w@])|(?<![\w&#])#([\p{L}\p{N}_]{1,64})(?![\p{L}\p{N}_])/gu;

export const tagPath = (tag) => `/home?q=${enc(`#${tag}`)}`;

/** The text as nodes: @mentions link to the profile, #tags to a search for them. */
export function richText(post) {
  const mentioned = new Set(post.mentions.map((m) => m.handle.toLowerCase()));
  const tags = new Set(post.hashtags);
  const out = [];
  let last = 0;
  for (const match of post.text.matchAll(TOKENS)) {
    const [whole, handle, tag] = match;
    let link = null;
    if (handle && mentioned.has(handle.toLowerCase())) {
      link = h("a.mention", { href: social.profilePath(handle), "data-link": true }, whole);
    } else if (tag && tags.has(tag.normalize("NFC").toLowerCase())) {
      link = h("a.hashtag", { href: tagPath(tag), "data-link": true }, whole);
    }
    if (!link) continue;
    out.push(post.text.slice(last, match.index), link);
    last = match.index + whole.length;
  }
  out.push(post.text.slice(last));
  return out;
}

/**
 * The post's images: the thumb variant (the original while the worker is at it); a click shows medium.
 * An image listed without URLs (a hub that lists only ids) keeps its place as a placeholder.
 */
function images(post) {
  if (!post.media.length) return null;
  const n = post.media.length;
  return h("div.post-media", { dataset: { count: String(n) } }, post.media.map((m, i) => {
    const label = `Image ${i + 1} of ${n}`;
    const small = m.variants?.thumb?.url || m.url;
    if (!small) return h("span.post-image.pending", { role: "img", "aria-label": label, dataset: { mediaId: m.id } }, "Image");
    const large = m.variants?.medium?.url || m.url;
    return h("button.post-image", {
      type: "button", "aria-label": `${label}, show larger`, dataset: { mediaId: m.id },
      onclick: () => showLarge(large, label),
    }, h("img", { src: small, alt: label, loading: "lazy" }));
  }));
}

function showLarge(url, label) {
  const dialog = h("dialog.dialog.image-dialog", { "aria-label": label },
    h("form", { method: "dialog" },
      h("img", { src: url, alt: label }),
      h("div.actions", {}, h("button", { type: "submit" }, "Close"))));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}

/** Comments, oldest first, "Load more" for later ones; add one; delete mine (or any, on my post). */
function comments(post, { isCurrent, onCount, onGone }) {
  const list = h("ul.comments", { "aria-label": "Comments" });
  const more = h("button.small", { type: "button", hidden: true }, "Load more comments");
  const status = h("div.list-status");
  const error = errorBox();
  const id = uid("c");
  // No maxlength: it counts UTF-16 units, the hub counts characters (checked on submit).
  const input = h("textarea.comment-input", { id, name: "text", rows: 2, required: true });
  const send = h("button.primary.small", { type: "submit" }, "Comment");
  let cursor = null;
  const mine = () => session.user()?.id;

  const item = (c) => {
    const own = c.author.id === mine() || post.author.id === mine();
    const li = h("li.comment", { class: c.removed ? "removed" : null, dataset: { commentId: c.id } },
      h("a.person-name", { href: social.profilePath(c.author.handle), "data-link": true }, c.author.display_name),
      h("span.meta", {}, ` @${c.author.handle} · `, timeAgo(c.created_at)),
      moderation.removedNote(c),
      h("p.comment-text", {}, c.text),
      moderation.reportButton({
        type: "comment", id: c.id, own: c.author.id === mine(), label: `Report comment by @${c.author.handle}`,
        onGone: () => {
          li.remove();
          onCount(-1);
        },
      }),
      own ? h("button.small.danger", {
        type: "button", "aria-label": `Delete comment by @${c.author.handle}`,
        onclick: async (event) => {
          event.currentTarget.disabled = true;
          try {
            await removeComment(post.id, c.id);
          } catch (e) {
            if (isPostGone(e)) return onGone();
            if (!isCommentGone(e)) {
              event.currentTarget.disabled = false;
              return toast(api.describe(e), "error");
            }
          }
          li.remove();
          onCount(-1);
        },
      }, "Delete") : null);
    return li;
  };

  const load = async () => {
    more.disabled = true;
    try {
      const page = await api.get(`/posts/${enc(post.id)}/comments?limit=20${cursor ? `&cursor=${enc(cursor)}` : ""}`);
      if (!isCurrent()) return;
      list.append(...page.items.map(item));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      clear(status, list.children.length ? null : h("p.empty", {}, "No comments yet."));
    } catch (e) {
      if (!isCurrent()) return;
      if (isPostGone(e)) return onGone();
      clear(status, h("p.error-box", { role: "alert" }, api.describe(e)));
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener("click", load);

  const form = h("form.comment-form", { "aria-label": "Add a comment" },
    h("label.visually-hidden", { for: id }, "Your comment"), input, error, send);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    if (social.chars(text) > COMMENT_MAX) return error.show(`A comment has at most ${COMMENT_MAX} characters.`);
    error.show("");
    send.disabled = true;
    try {
      const created = await comment(post.id, text);
      input.value = "";
      // Only add it where the list has reached the end: otherwise "Load more" brings it in order.
      if (!cursor) list.append(item(created));
      clear(status);
      onCount(1);
    } catch (e) {
      if (isPostGone(e)) return onGone();
      error.show(api.describe(e));
    } finally {
      send.disabled = false;
    }
  });
  load();
  return h("section.post-comments", { "aria-label": "Comments" }, status, list, more,
    social.myHandle() ? form : null);
}

/** The author's edit form for the text (the hub keeps the previous version). */
function editText(post, { onSaved, onCancel, onGone }) {
  const id = uid("e");
  const error = errorBox();
  const input = h("textarea.post-input", { id, rows: 3 });
  input.value = post.text;
  const save = h("button.primary.small", { type: "submit" }, "Save");
  const form = h("form.post-edit", { "aria-label": "Edit post" },
    h("label.visually-hidden", { for: id }, "Post text"), input, error,
    h("div.actions", {}, save, h("button.small", { type: "button", onclick: onCancel }, "Cancel")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (social.chars(input.value) > POST_MAX) return error.show(`A post has at most ${POST_MAX} characters.`);
    save.disabled = true;
    try {
      onSaved(await update(post.id, { text: input.value }));
    } catch (e) {
      if (isPostGone(e)) return onGone();
      error.show(api.describe(e));
      save.disabled = false;
    }
  });
  queueMicrotask(() => input.focus());
  return form;
}

/** One post. `onGone()` runs when it is deleted here or turns out gone (404) on any action. */
export function postCard(initial, { isCurrent, onGone = () => {} }) {
  let post = initial;
  const el = h("article.card.post", { dataset: { postId: post.id } });
  const gone = () => {
    el.remove();
    onGone();
  };
  let commentsEl = null;
  let editing = false;

  const act = async (button, call) => {
    button.disabled = true;
    try {
      post = await call();
      if (isCurrent()) render();
    } catch (e) {
      button.disabled = false;
      if (isPostGone(e)) gone();
      else if (social.isAccountRequired(e)) toast("Register to like and comment.", "error");
      else toast(api.describe(e), "error");
    }
  };

  function render() {
    const own = post.author.id === session.user()?.id;
    const signedUp = Boolean(social.myHandle());
    const likeButton = h("button.small.like", {
      type: "button", "aria-pressed": String(post.liked), disabled: !signedUp,
      title: signedUp ? null : "Register to like posts",
      dataset: { count: String(post.likes_count) },
      onclick: () => act(likeButton, () => (post.liked ? unlike(post.id) : like(post.id))),
    }, icon("heart", { filled: post.liked }), post.liked ? " Liked" : " Like",
    h("span.like-count", {}, ` ${post.likes_count}`));
    const commentsButton = h("button.small.comments-toggle", {
      type: "button", "aria-expanded": String(Boolean(commentsEl)),
      dataset: { count: String(post.comments_count) },
      onclick: () => {
        commentsEl = commentsEl ? null : comments(post, {
          isCurrent, onGone: gone,
          onCount: (d) => {
            post = { ...post, comments_count: Math.max(0, post.comments_count + d) };
            render();
          },
        });
        render();
      },
    }, `Comments ${post.comments_count}`);
    const deleteButton = own ? h("button.small.danger", {
      type: "button",
      onclick: async () => {
        if (!(await confirmDialog("Delete this post? Its comments and likes go with it.", { confirmLabel: "Delete", danger: true }))) return;
        deleteButton.disabled = true;
        try {
          await remove(post.id);
        } catch (e) {
          if (!isPostGone(e)) {
            deleteButton.disabled = false;
            return toast(api.describe(e), "error");
          }
        }
        toast("Post deleted.");
        gone();
      },
    }, "Delete") : null;
    const editButton = own ? h("button.small", {
      type: "button", onclick: () => {
        editing = true;
        render();
      },
    }, "Edit") : null;
    const body = editing
      ? editText(post, {
        onGone: gone,
        onCancel: () => {
          editing = false;
          render();
        },
        onSaved: (updated) => {
          post = updated;
          editing = false;
          render();
        },
      })
      : h("p.post-text", {}, richText(post));
    el.classList.toggle("removed", Boolean(post.removed));
    clear(el,
      h("header.post-head", {},
        h("a.person-name", { href: social.profilePath(post.author.handle), "data-link": true }, post.author.display_name),
        h("span.meta", {}, ` @${post.author.handle} · `,
          timeAgo(post.created_at),
          post.edited_at ? h("span.badge", { title: dateTime(post.edited_at) }, "edited") : null,
          post.visibility !== "public" ? h("span.badge", {}, post.visibility) : null)),
      moderation.removedNote(post),
      body,
      images(post),
      h("div.actions.post-actions", {}, likeButton, commentsButton, editButton, deleteButton,
        moderation.reportButton({
          type: "post", id: post.id, own, label: `Report post by @${post.author.handle}`, onGone: gone,
        })),
      commentsEl);
  }
  render();
  return el;
}

/**
 * A list of posts newest first (`path` answers {items, next_cursor, prev_cursor}), "Load more" for older
 * ones; `prepend(posts)` puts newer ones on top. `fetchPage(cursor)` may replace the plain GET.
 */
export function postList({ path, label, empty, isCurrent, fetchPage = null, limit = 20 }) {
  const list = h("div.posts", { role: "feed", "aria-label": label });
  const status = h("div.list-status", {}, h("p.meta", { role: "status" }, `Loading ${label.toLowerCase()}…`));
  const more = h("button.small", { type: "button", hidden: true }, "Load more");
  const shown = new Set();
  let cursor = null;
  const showEmpty = () => clear(status, list.children.length ? null : h("p.empty", {}, empty));
  const card = (p) => {
    shown.add(p.id);
    return postCard(p, { isCurrent, onGone: () => {
      shown.delete(p.id);
      showEmpty();
    } });
  };
  const get = fetchPage || ((c) => api.get(`${path}${path.includes("?") ? "&" : "?"}limit=${limit}${c ? `&cursor=${enc(c)}` : ""}`));

  const load = async () => {
    more.disabled = true;
    try {
      const page = await get(cursor);
      if (!isCurrent()) return;
      list.append(...page.items.filter((p) => !shown.has(p.id)).map(card));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      showEmpty();
      return page;
    } catch (e) {
      if (!isCurrent()) return null;
      clear(status, h("p.error-box", { role: "alert" }, api.describe(e)),
        h("button.small", { type: "button", onclick: () => load() }, "Try again"));
      return null;
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener("click", load);

  /** Newer posts on top; `items` newest first. */
  const prepend = (items) => {
    list.prepend(...items.filter((p) => !shown.has(p.id)).map(card));
    showEmpty();
  };
  return { el: h("div.paged", {}, status, list, more), load, prepend, has: (id) => shown.has(id) };
}
