import { element } from "./dom.ts";

/** Candidate links: `http://` or `https://` up to whitespace or a character that cannot end a bare URL in prose. */
const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/giu;
/** Punctuation that usually closes the sentence around a link rather than the link itself. */
const TRAILING = /[.,;:!?)\]}]+$/u;

/** The URL a link may point to: `http:` or `https:` with a host, else `undefined` (no `javascript:`, `data:`, …). */
export function safeHref(text: string): string | undefined {
  try {
    const url = new URL(text);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "" ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A message's text as DOM nodes: text nodes, and `<a>` for each http(s) URL, built with `textContent` only, so no
 * message ever passes through an HTML parser. Links open in a new tab without giving it a handle on this one.
 */
export function linkify(text: string): Node[] {
  const nodes: Node[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const raw = match[0].replace(TRAILING, "");
    const href = safeHref(raw);
    if (!href) continue;
    const start = match.index;
    if (start > last) nodes.push(document.createTextNode(text.slice(last, start)));
    const link = element("a", "msg-link", raw);
    link.href = href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    nodes.push(link);
    last = start + raw.length;
  }
  if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}
