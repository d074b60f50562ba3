/**
 * `npm run simulate -- [options]` — the Fieldwatch fleet simulator (see `--help` and src/simulator/).
 *
 * Exit codes: 0 done, 1 runtime error (API, Kafka, state file), 2 usage error, 130 interrupted (summary still printed).
 */
import { parseSimulatorArgs, HELP_TEXT, UsageError } from '../simulator/options';
import { runSimulator } from '../simulator/runner';

async function main(): Promise<number> {
  let options;
  try {
    options = parseSimulatorArgs(process.argv.slice(2), process.env, Date.now());
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`simulate: ${error.message}\nRun with --help for the options.\n`);
      return 2;
    }
    throw error;
  }
  if (options.help) {
    process.stdout.write(HELP_TEXT);
    return 0;
  }

  // First Ctrl-C: stop generating, flush, print the summary. Second: leave immediately.
  const stop = new AbortController();
  const onSignal = (): void => {
    if (stop.signal.aborted) process.exit(130);
    process.stderr.write('\nstopping: flushing pending messages (Ctrl-C again to abort)\n');
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const { summary, interrupted } = await runSimulator(options, {
    stdout: process.stdout,
    stderr: process.stderr,
    stderrIsTty: process.stderr.isTTY === true,
    stop: stop.signal,
  });
  const text = JSON.stringify(summary, null, 2) + '\n';
  // With --dry-run stdout carries the NDJSON stream, so the summary goes to stderr.
  (options.dryRun ? process.stderr : process.stdout).write(text);
  return interrupted ? 130 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`simulate: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
