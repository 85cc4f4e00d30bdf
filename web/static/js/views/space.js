// The space screen: header (name, expiry, share; Report for those who do not own it), presence,
// whiteboard, bins and files, all fed by one realtime connection.
import * as api from "../api.js";
import * as codes from "../codes.js";
import { h, clear, fromNow, skeleton, timeAgo } from "../dom.js";
import * as moderation from "../moderation.js";
import { BinsPanel } from "../bins.js";
import { FilesPanel } from "../files.js";
import { PresenceList } from "../presence.js";
import { Realtime } from "../realtime.js";
import { openShareDialog } from "../share.js";
import { banner, toast } from "../ui.js";
import { Whiteboard } from "../whiteboard.js";

async function loadSpace(spaceId) {
  try {
    return await api.get(`/spaces/${encodeURIComponent(spaceId)}`);
  } catch (error) {
    // Not a member yet: a link-visible space lets anyone holding its link join.
    if (error instanceof api.ApiError && error.status === 404) {
      return api.post(`/spaces/${encodeURIComponent(spaceId)}/join`);
    }
    throw error;
  }
}

function goneScreen(main, title, message) {
  clear(main, h("section.card.notice", { role: "alert" }, h("h1", {}, title), h("p", {}, message),
    h("a.button", { href: "/", "data-link": true }, "Go to my spaces")));
}

export function spaceView({ main, isCurrent }, spaceId) {
  let realtime = null;
  let whiteboard = null;
  let closed = false;

  (async () => {
    let space;
    try {
      space = await loadSpace(spaceId);
    } catch (error) {
      if (!isCurrent()) return;
      if (error instanceof api.ApiError && error.status === 404) {
        goneScreen(main, "Space not found", "This space does not exist, or you have not been invited to it.");
      } else if (error instanceof api.ApiError && error.status === 410) {
        goneScreen(main, "Space expired", "This space has expired and its contents are gone.");
      } else {
        goneScreen(main, "Cannot open the space", api.describe(error));
      }
      return;
    }
    if (!isCurrent()) return;

    const presence = new PresenceList({ onLeave: (userId) => whiteboard?.dropUser(userId) });
    const bins = new BinsPanel(spaceId, { presence });
    const files = new FilesPanel(spaceId);
    const title = h("h1.space-title", {}, space.name);
    const expiry = h("span.expiry");
    const role = h("span.badge");
    const renderHeader = () => {
      title.textContent = space.name;
      document.title = `${space.name} · Collab Hub`;
      // Past its time a space is gone (the sweeper removes it within a minute): never "Expires now".
      clear(expiry, timeAgo(space.expires_at, "Expires ", "Expired"));
      role.textContent = space.role || "member";
    };
    renderHeader();
    // The owner keeps the space for longer: a new lifetime from now, up to the hub's maximum.
    const keep = space.role === "owner" ? h("select.keep", { "aria-label": "Keep the space" },
      [["", "Keep for…"], ["86400", "1 day from now"], ["604800", "7 days from now"], ["2592000", "30 days from now"],
        ["7776000", "90 days from now"]].map(([value, label]) => h("option", { value }, label))) : null;
    keep?.addEventListener("change", async () => {
      const ttl = Number(keep.value);
      keep.value = "";
      if (!ttl) return;
      try {
        Object.assign(space, await api.patch(`/spaces/${encodeURIComponent(spaceId)}`, { ttl_seconds: ttl }));
        renderHeader();
        toast(`The space now expires ${fromNow(space.expires_at)}.`);
      } catch (e) {
        toast(api.describe(e), "error");
      }
    });
    const share = h("button.primary", { type: "button", onclick: () => openShareDialog(space, { onChanged: renderHeader }) },
      "Share");
    const connection = h("span.connection", { role: "status", dataset: { state: "connecting" } }, "Connecting…");

    realtime = new Realtime(spaceId, {
      onJoined: (ack, { reconnect }) => {
        presence.set(ack.presence || []);
        whiteboard.joined(ack);
        const editable = ack.role !== "viewer";
        bins.setEditable(editable);
        files.setEditable(editable);
        if (reconnect) {
          // Bins and files changed while we were away arrive as fresh lists, not replays.
          bins.load();
          files.load();
          if (!ack.recovered) toast("Reconnected; the board was reloaded.");
        }
      },
      onDisconnected: () => whiteboard.disconnected(),
      unacked: () => whiteboard.unacked(),
      onEvent: (name, payload) => {
        if (name === "presence") presence.apply(payload);
        else if (name === "space_updated") {
          api.get(`/spaces/${encodeURIComponent(spaceId)}`).then((fresh) => {
            Object.assign(space, fresh);
            renderHeader();
          }).catch(() => {});
        }
        whiteboard.apply(name, payload);
        bins.event(name, payload);
        files.event(name, payload);
      },
      onGone: (code, message) => {
        if (!isCurrent()) return;
        banner(null);
        const expired = code === codes.SPACE_EXPIRED;
        goneScreen(main, expired ? "Space expired" : code === codes.MEMBER_REMOVED ? "Removed" : "Space closed",
          message || (expired ? "This space has expired." : "This space is no longer available."));
      },
      onStatus: ({ state, attempt }) => {
        connection.dataset.state = state;
        connection.textContent = { connecting: "Connecting…", joined: "Live", reconnecting: "Offline", closed: "" }[state];
        if (state === "reconnecting") {
          banner(attempt > 0 ? `Reconnecting… (attempt ${attempt})` : "Reconnecting…");
        } else {
          banner(null);
        }
      },
    });
    whiteboard = new Whiteboard({ realtime, presence });

    clear(main,
      h("div.space", { dataset: { spaceId } },
        h("header.space-head", {},
          h("div.space-heading", {},
            h("a.back", { href: "/", "data-link": true }, "← My spaces"),
            title,
            h("p.meta", {}, role, " ", expiry, " ", keep, " ", connection)),
          h("div.space-actions", {}, presence.el, share,
            moderation.reportButton({
              type: "space", id: spaceId, own: space.role === "owner", label: "Report this space",
              onGone: () => goneScreen(main, "Space not found", "This space is no longer available."),
            }))),
        h("div.space-body", {},
          whiteboard.el,
          h("div.side", {}, bins.el, files.el))));
    bins.load();
    files.load();
    if (!closed) realtime.start();
  })();

  // Shown until the space has loaded.
  clear(main, h("div.space-skeleton", {}, skeleton(1, "Loading the space…"), h("div.skeleton-board"), skeleton(3)));
  return () => {
    closed = true;
    realtime?.close();
    whiteboard?.destroy();
    banner(null);
    document.title = "Collab Hub";
  };
}
