import { Command, Errors, type Interfaces } from '@oclif/core';
import { globalFlags, flagOverrides } from './flags.js';
import { loadConfig, type LoadedConfig, type ShopdataConfig } from '../config/index.js';
import { createLogger, type Logger } from '../log/index.js';
import { toShopdataError, ExitCode, type ShopdataError } from '../errors/index.js';
import { eventOutcome } from '../observability/log-fields.js';
import { startTracing, traceLogMixin, type TracingHandle } from '../observability/tracing.js';

export type CommandFlags<T extends typeof Command> = Interfaces.InferredFlags<
  (typeof BaseCommand)['baseFlags'] & T['flags']
>;
export type CommandArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>;

/**
 * Every shopdata command extends this: parsed flags, the layered config, a stderr logger, and the
 * one place where errors become the contract's exit codes. Commands return a typed result that
 * oclif prints for --json; they never call process.exit.
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true;
  static override baseFlags = globalFlags;

  protected flags!: CommandFlags<T>;
  protected args!: CommandArgs<T>;
  protected logger!: Logger;
  private loaded: LoadedConfig | undefined;
  private readonly shutdown = new AbortController();
  private receivedSignal: NodeJS.Signals | undefined;

  public override async init(): Promise<void> {
    await super.init();
    const { flags, args } = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (super.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    });
    this.flags = flags as CommandFlags<T>;
    this.args = args as CommandArgs<T>;
    // Tracing (and its ~30 ms of imports) only when tracingEnabled() says so.
    const mixin = await traceLogMixin();
    this.logger = createLogger({
      level: this.flags['log-level'],
      command: this.id ?? undefined,
      ...(mixin ? { mixin } : {}),
    });
    this.tracing = await startTracing({ logger: this.logger, serviceVersion: this.config.version });
    this.startedAtMs = Date.now();
  }

  private tracing: TracingHandle | undefined;
  private startedAtMs = Date.now();

  protected override async finally(err: Error | undefined): Promise<unknown> {
    if (this.logger) {
      const ok = !err || (err as { oclif?: { exit?: number } }).oclif?.exit === 0;
      // Every run ends with one line carrying ECS event.outcome and event.duration (ns).
      this.logger.debug(eventOutcome(ok, this.startedAtMs), ok ? 'done' : 'failed');
    }
    await this.tracing?.shutdown();
    return super.finally(err);
  }

  /** The layered configuration (flags > env > shopdata.yaml > defaults), loaded once. */
  protected settings(): ShopdataConfig {
    this.loaded ??= loadConfig({
      flags: flagOverrides(this.flags as Record<string, unknown>),
      configFile: this.flags.config,
    });
    return this.loaded.config;
  }

  protected configSources(): LoadedConfig['sources'] {
    this.settings();
    return this.loaded!.sources;
  }

  /**
   * An AbortSignal that fires on SIGINT/SIGTERM, for long-running commands that flush and stop
   * cleanly. After it fires, `interruptedBy()` says which signal it was.
   */
  protected shutdownSignal(): AbortSignal {
    if (!this.signalHandlersInstalled) {
      this.signalHandlersInstalled = true;
      const onSignal = (sig: NodeJS.Signals) => {
        if (this.receivedSignal) {
          this.logger.warn({ signal: sig }, 'second signal: stopping now');
          process.exitCode = ExitCode.Interrupted;
          process.kill(process.pid, 'SIGKILL');
        }
        this.receivedSignal = sig;
        this.logger.info({ signal: sig }, 'stopping: flushing work in flight');
        this.shutdown.abort(new Error(sig));
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    }
    return this.shutdown.signal;
  }
  private signalHandlersInstalled = false;

  protected interruptedBy(): NodeJS.Signals | undefined {
    return this.receivedSignal;
  }

  /** Writes a line to stdout unless --json is on (then only the returned result is printed). */
  protected out(line = ''): void {
    if (!this.jsonEnabled()) this.log(line);
  }

  protected override async catch(err: Error & { exitCode?: number }): Promise<unknown> {
    const e: ShopdataError = toShopdataError(err);
    process.exitCode = e.exitCode;
    if (this.jsonEnabled()) {
      this.logJson({ error: e.toJSON() });
    } else {
      const lines = [`Error: ${e.message}`];
      if (e.hint) lines.push(`Hint: ${e.hint}`);
      process.stderr.write(lines.join('\n') + '\n');
    }
    if (this.logger && e.code === 'INTERNAL') this.logger.debug({ err: e.cause ?? e }, 'unexpected error');
    // ExitError is not printed again by oclif's handler; it only carries the code.
    throw new Errors.ExitError(e.exitCode);
  }
}
