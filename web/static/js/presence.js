// Who is here: one entry per user (however many tabs), with the colour the hub assigned them.
import { h, clear } from "./dom.js";
import * as session from "./session.js";

export class PresenceList {
  constructor({ onLeave } = {}) {
    this.users = new Map();
    this.onLeave = onLeave;
    this.list = h("ul.presence-list");
    this.el = h("section.presence", { "aria-labelledby": "presence-title", dataset: { count: "0" } },
      h("h2.visually-hidden", { id: "presence-title" }, "People here"), this.list);
  }

  set(users) {
    this.users = new Map(users.map((u) => [u.user_id, u]));
    this.render();
  }

  /** A `presence` event: {action: join|update|leave, user}. */
  apply(event) {
    const user = event.user;
    if (!user?.user_id) return;
    if (event.action === "leave") {
      this.users.delete(user.user_id);
      this.onLeave?.(user.user_id);
    } else {
      this.users.set(user.user_id, { ...this.users.get(user.user_id), ...user });
    }
    this.render();
  }

  name(userId) {
    return this.users.get(userId)?.display_name;
  }

  color(userId) {
    return this.users.get(userId)?.color;
  }

  render() {
    const me = session.user()?.id;
    const users = [...this.users.values()].sort((a, b) => (a.user_id === me ? -1 : b.user_id === me ? 1
      : String(a.display_name).localeCompare(String(b.display_name))));
    clear(this.list, users.map((u) => {
      const swatch = h("span.swatch", { "aria-hidden": "true" });
      swatch.style.backgroundColor = u.color || "#888";
      return h("li.presence-user", { dataset: { userId: u.user_id } }, swatch,
        h("span.presence-name", {}, u.display_name || "Someone"),
        u.user_id === me ? h("span.muted", {}, " (you)") : null,
        u.connections > 1 ? h("span.muted", { title: "Open in several tabs" }, ` ×${u.connections}`) : null);
    }));
    this.el.dataset.count = String(users.length);
    this.list.setAttribute("aria-label", `${users.length} ${users.length === 1 ? "person" : "people"} here`);
  }
}
