import type { KafkaLagSource } from '../kafka/lag.js';
import type { LakeIO } from '../lake/io.js';
import type { LakeView } from './types.js';

export interface LakeSourceOptions {
  /** Opens the lake (lazily: the lake modules load only when top shows a lake). */
  open: () => Promise<LakeIO>;
  /** Reads of the lake's metadata at most this often (default 30 s); top shows the last one between. */
  minIntervalMs?: number;
}

/** `top`'s lake line: snapshot ages and archive's lag behind Kafka (lib/lake/status.ts). */
export class LakeSource {
  private io: LakeIO | undefined;
  private last: { at: number; view: LakeView } | undefined;

  constructor(
    private readonly o: LakeSourceOptions,
    private readonly kafka: KafkaLagSource,
  ) {}

  async poll(now: number): Promise<LakeView> {
    if (this.last && now - this.last.at < (this.o.minIntervalMs ?? 30_000)) {
      // Ages move on between reads of the lake.
      const dt = (now - this.last.at) / 1000;
      const v = this.last.view;
      return {
        ...v,
        newestCommitSeconds: v.newestCommitSeconds === null ? null : v.newestCommitSeconds + dt,
        oldestCommitSeconds: v.oldestCommitSeconds === null ? null : v.oldestCommitSeconds + dt,
      };
    }
    this.io ??= await this.o.open();
    const { lakeFreshness } = await import('../lake/status.js');
    const view = await lakeFreshness(this.io, this.kafka, now);
    this.last = { at: now, view };
    return view;
  }

  close(): void {
    this.io?.close();
  }
}
