// Limits that depend on the hub's settings, learnt from the hub itself: its OpenAPI document carries
// the values this hub enforces (rest/openapi.py `limited_by_setting` writes the settings into the
// schemas), so the client never hard-codes one that an operator may change. The document is read
// once per page, on first use, and only when a limit is needed.
import * as api from "./api.js";

let spec = null;

function openapi() {
  spec ??= api.get("/openapi.json", { auth: false }).catch((error) => {
    spec = null; // asked again next time
    throw error;
  });
  return spec;
}

/** `keyword` of a schema property, also where it is optional (`anyOf: [{…, maxLength}, {type: null}]`). */
function keywordOf(property, keyword) {
  if (!property) return null;
  for (const part of [property, ...(property.anyOf || [])]) {
    if (Number.isInteger(part[keyword])) return part[keyword];
  }
  return null;
}

async function limit(schema, field, keyword) {
  const doc = await openapi();
  return keywordOf(doc?.components?.schemas?.[schema]?.properties?.[field], keyword);
}

/** The most characters a bin's content may have (HUB_BIN_MAX_CHARS), or null when the hub does not say. */
export const binMaxChars = () => limit("BinPatch", "content", "maxLength");

/** Characters as the hub counts them (code points): an emoji is one, though `"\u{1F600}".length` is 2. */
export function codePoints(text) {
  let pairs = 0;
  for (let i = 0; i < text.length - 1; i += 1) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        pairs += 1;
        i += 1;
      }
    }
  }
  return text.length - pairs;
}
