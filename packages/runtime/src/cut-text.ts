/**
 * The first `max` UTF-16 code units of `text`, one fewer when the cut would split a surrogate pair: the first half of
 * an emoji is dropped with its second. Used where user-provided text is quoted in a message, which may end up in a
 * store that cannot hold half a pair (PostgreSQL's text and jsonb), and would show as garbage anyway.
 * @example cutText('ab🙂', 3) // 'ab'
 */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  const last = text.charCodeAt(max - 1);
  // A high surrogate at the cut means its low half is past it.
  return last >= 0xd800 && last <= 0xdbff ? text.slice(0, max - 1) : text.slice(0, max);
}
