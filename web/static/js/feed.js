// The home feed (README "Home feed"): GET /feed newest first with "Load more", and live: the hub pushes
// `feed_post {id, author}` to my personal room (docs/realtime.md "Personal room"), which this module
// only counts ("N new posts"); showing them reads `GET /feed?since=<prev_cursor>` page by page until
// a page is empty, so nothing that arrived meanwhile is skipped or shown twice.
//
// A hub without GET /feed (404) still gets a feed: the first pages of /users/{id}/posts of the people
// I follow and mine, merged newest first; "show new" then reads it again from the top.
import * as api from "./api.js";
import { h, clear } from "./dom.js";
import * as posts from "./posts.js";
import { personalSocket } from "./realtime.js";
import * as session from "./session.js";
import { toast } from "./ui.js";

const enc = encodeURIComponent;
const PAGE = 20;
const FEED_POST = "feed_post";

const newer = (a, b) => a.created_at > b.created_at || (a.created_at === b.created_at && a.id > b.id);

/** Pages of several newest-first lists merged into one, newest first (a k-way merge of their pages). */
function merged(paths, limit) {
  const sources = paths.map((path) => ({ path, buffer: [], cursor: null, done: false }));
  const refill = async (s) => {
    try {
      const page = await api.get(`${s.path}?limit=${limit}${s.cursor ? `&cursor=${enc(s.cursor)}` : ""}`);
      s.buffer.push(...page.items);
      s.cursor = page.next_cursor;
      s.done = !page.next_cursor;
    } catch (error) {
      // Someone who blocked me (or left) meanwhile is a list that is simply empty.
      if (!(error instanceof api.ApiError && error.status === 404)) throw error;
      s.done = true;
    }
  };
  return async () => {
    const items = [];
    while (items.length < limit) {
      await Promise.all(sources.filter((s) => !s.done && !s.buffer.length).map(refill));
      const live = sources.filter((s) => s.buffer.length);
      if (!live.length) break;
      const best = live.reduce((a, b) => (newer(a.buffer[0], b.buffer[0]) ? a : b));
      items.push(best.buffer.shift());
    }
    const more = sources.some((s) => s.buffer.length || !s.done);
    return { items, next_cursor: more ? "merged" : null };
  };
}

async function followedIds(me) {
  const ids = [me];
  let cursor = null;
  do {
    const page = await api.get(`/users/${enc(me)}/following?limit=100${cursor ? `&cursor=${enc(cursor)}` : ""}`);
    ids.push(...page.items.map((p) => p.id));
    cursor = page.next_cursor;
  } while (cursor);
  return ids;
}

/** The feed section. Returns the element, `prepend(post)` for my own new post, and `close()`. */
export function feedSection({ isCurrent }) {
  const me = session.user().id;
  const banner = h("button.new-posts", { type: "button", hidden: true, "aria-live": "polite" });
  const holder = h("div.feed-list", {}, h("p.meta", { role: "status" }, "Loading your feed…"));
  const pending = new Set();
  let list = null;
  let prevCursor = null;
  let fallback = false;
  let loading = false;

  const showCount = () => {
    const n = pending.size;
    banner.hidden = n === 0;
    banner.textContent = n === 1 ? "1 new post" : `${n} new posts`;
    banner.dataset.count = String(n);
  };

  const feedPage = async (cursor) => {
    const page = await api.get(`/feed?limit=${PAGE}${cursor ? `&cursor=${enc(cursor)}` : ""}`);
    if (!cursor) prevCursor = page.prev_cursor;
    return page;
  };

  const start = async () => {
    let first = null;
    if (!fallback) {
      try {
        first = await feedPage(null);
      } catch (error) {
        if (!(error instanceof api.ApiError && error.status === 404)) throw error;
        fallback = true;
      }
    }
    const fetchPage = fallback ? merged((await followedIds(me)).map(posts.userPostsPath), PAGE) : firstThen(first, feedPage);
    if (!isCurrent()) return;
    list = posts.postList({
      label: "Home feed", empty: "Nothing here yet. Follow people, or post something yourself.", isCurrent, fetchPage,
    });
    clear(holder, list.el);
    await list.load();
  };

  const load = () => start().catch((error) => {
    if (!isCurrent()) return;
    clear(holder, h("p.error-box", { role: "alert" }, api.describe(error)),
      h("button.small", { type: "button", onclick: () => load() }, "Try again"));
  });

  const showNew = async () => {
    if (loading) return;
    loading = true;
    banner.disabled = true;
    // Pushes that arrive while we read may be for posts committed after our last page: they stay counted.
    const asked = new Set(pending);
    try {
      if (fallback) {
        pending.clear();
        showCount();
        await load();
        return;
      }
      // Every `since` page holds what came right after the last one, newest first: on top each time.
      for (;;) {
        const page = await api.get(`/feed?limit=${PAGE}&since=${enc(prevCursor)}`);
        if (!isCurrent()) return;
        prevCursor = page.prev_cursor;
        for (const p of page.items) pending.delete(p.id);
        list.prepend(page.items);
        if (!page.items.length) break;
      }
      for (const id of pending) if (asked.has(id) || list.has(id)) pending.delete(id);
      showCount();
    } catch (error) {
      if (isCurrent()) toast(api.describe(error), "error");
    } finally {
      loading = false;
      banner.disabled = false;
    }
  };
  banner.addEventListener("click", showNew);

  // `data-live` says whether pushes can arrive (a missed one is still found by the next `since`).
  const el = h("section.card.feed", { "aria-labelledby": "feed-title", dataset: { live: "off" } },
    h("h2", { id: "feed-title" }, "Feed"), banner, holder);
  const close = personalSocket((event, payload) => {
    if (event !== FEED_POST || !payload || typeof payload.id !== "string" || !isCurrent()) return;
    if (list?.has(payload.id)) return;
    pending.add(payload.id);
    showCount();
  }, (connected) => {
    el.dataset.live = connected ? "on" : "off";
  });

  load();
  return {
    el,
    prepend: (post) => {
      pending.delete(post.id);
      showCount();
      list?.prepend([post]);
    },
    close,
  };
}

/** A page source whose first page is already read (the probe for GET /feed). */
function firstThen(first, next) {
  let used = false;
  return (cursor) => {
    if (!used && !cursor) {
      used = true;
      return Promise.resolve(first);
    }
    return next(cursor);
  };
}

/**
 * Search as one types (debounced): people (GET /search/users; results link to profiles) and posts
 * (GET /search/posts: text from 3 characters on, or one #tag). A hub without post search (404) shows
 * people only; a query it refuses (422, say a lone "#") finds no posts.
 */
export function searchBox({ isCurrent, initial = "", personItem }) {
  const input = h("input", {
    id: "search-box", type: "search", name: "q", maxlength: 100, autocomplete: "off", spellcheck: false,
    placeholder: "Name, handle, words or #tag",
  });
  input.value = initial;
  const people = h("ul.people.search-results", { "aria-label": "People found" });
  const found = h("div.posts.search-posts", { role: "feed", "aria-label": "Posts found" });
  const status = h("p.meta", { role: "status", "aria-live": "polite" });
  let timer = null;
  let asked = 0;
  let postSearch = true;

  const findPosts = async (q) => {
    if (!postSearch || (!q.startsWith("#") && [...q].length < 3)) return [];
    try {
      return (await api.get(`/search/posts?q=${enc(q)}&limit=10`)).items;
    } catch (error) {
      if (error instanceof api.ApiError && error.status === 404) postSearch = false;
      else if (!(error instanceof api.ApiError && error.status === 422)) throw error;
      return [];
    }
  };
  const run = async () => {
    const q = input.value.trim();
    const mine = ++asked;
    if (!q) {
      clear(people);
      clear(found);
      status.textContent = "";
      return;
    }
    const who = q.replace(/^@/, "");
    try {
      const [persons, items] = await Promise.all([
        q.startsWith("#") ? [] : api.get(`/search/users?q=${enc(who)}&limit=10`).then((page) => page.items),
        findPosts(q),
      ]);
      if (mine !== asked || !isCurrent()) return;
      clear(people, persons.map((p) => personItem(p)));
      clear(found, items.map((p) => posts.postCard(p, { isCurrent })));
      status.textContent = persons.length || items.length ? "" : `Nothing matches “${q}”.`;
    } catch (error) {
      if (mine !== asked || !isCurrent()) return;
      clear(people);
      clear(found);
      status.textContent = api.describe(error);
    }
  };
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(run, 250);
  });
  if (initial) run();
  return h("section.card.search", { "aria-labelledby": "search-title" },
    h("h2", { id: "search-title" }, "Search"),
    h("label.visually-hidden", { for: "search-box" }, "Search"), input, status, people, found);
}
