/**
 * Secret redaction. Every secret Lifeboat learns (database passwords, S3 keys, tokens) is
 * registered here the moment it is known. Registration also tells the Actions runner to mask it
 * (through the hook the action entry points install), and every message Lifeboat itself writes,
 * including errors and pg_dump's stderr, passes through `redact` first.
 */
const secrets = new Set<string>();
let maskHook: ((secret: string) => void) | undefined;

/** Installed by the action entry points: core.setSecret. */
export function onSecretRegistered(hook: (secret: string) => void): void {
  maskHook = hook;
  for (const s of secrets) hook(s);
}

export function registerSecret(value: string | undefined): void {
  if (!value || value.length < 3) return; // masking 1-2 characters would shred every log line
  const forms = new Set([value, encodeURIComponent(value), Buffer.from(value).toString('base64')]);
  for (const form of forms) {
    if (secrets.has(form)) continue;
    secrets.add(form);
    maskHook?.(form);
  }
}

const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)([^@\s/]+)@/gi;

/** Removes registered secrets, and any password written in a URL even if nobody registered it. */
export function redact(text: string): string {
  let out = text.replace(URL_PASSWORD, '$1***@');
  // Longest first, so a secret that contains another is replaced whole.
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
    if (out.includes(s)) out = out.split(s).join('***');
  }
  return out;
}

/** For tests: forget everything registered in this process. */
export function resetSecretsForTests(): void {
  secrets.clear();
  maskHook = undefined;
}
