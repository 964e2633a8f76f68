/** Drafts survive a reload, per channel. Only the text typed is kept here; session tokens stay in sessionStorage. */
const PREFIX = "chat.draft.";

/** The draft kept for `channel`, or "" (storage may be unavailable, e.g. blocked cookies: then nothing is kept). */
export function loadDraft(channel: string): string {
  try {
    return localStorage.getItem(PREFIX + channel) ?? "";
  } catch {
    return "";
  }
}

/** Keeps `text` as the draft of `channel`; an empty draft is forgotten. */
export function saveDraft(channel: string, text: string): void {
  try {
    if (text === "") localStorage.removeItem(PREFIX + channel);
    else localStorage.setItem(PREFIX + channel, text);
  } catch {
    // Storage full or blocked: the draft lives only in the box.
  }
}
