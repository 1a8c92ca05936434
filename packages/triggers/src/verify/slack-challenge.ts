/**
 * Slack's URL verification handshake: when a Request URL is saved, Slack sends a signed
 * `{"type":"url_verification","challenge":"..."}` and expects the challenge back. Returns the challenge when
 * `body` is that handshake, undefined otherwise. Call it only after the signature verified.
 */
export function slackChallenge(body: unknown): string | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const b = body as Record<string, unknown>;
  return b.type === 'url_verification' && typeof b.challenge === 'string' ? b.challenge : undefined;
}
