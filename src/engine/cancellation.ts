/**
 * A cancelled GitHub job sends SIGINT, then SIGTERM, then SIGKILL; Ctrl-C and `kill` do the same to the
 * CLI. Node's default for the first two is to die on the spot, which would leave the operation's
 * children and uploads to fend for themselves. Instead, for the length of an operation, both signals
 * abort one AbortSignal that the operation passes down, so it can roll back or abort cleanly and
 * still fail the run, saying why.
 */
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

export async function withCancellation<T>(body: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals): void => {
    if (!controller.signal.aborted) controller.abort(name);
  };
  for (const name of SIGNALS) process.on(name, onSignal);
  try {
    return await body(controller.signal);
  } finally {
    for (const name of SIGNALS) process.off(name, onSignal);
  }
}
