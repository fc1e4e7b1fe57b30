import { holdoutSize } from '../src/core/data/holdout.js';
import { EvalCountsSchema, type EvalCounts, type FederatedEvalResult, type FederatedEvalSettings } from '../src/core/protocol/federated-eval.js';
import { MAX_EXAMPLE_LOSS } from '../src/core/train/loss.js';
import { macroF1FromCounts } from '../src/core/train/metrics.js';

/** The client computes Σ loss as a float32 mean × count: room for its rounding above count × MAX_EXAMPLE_LOSS. */
const LOSS_SUM_SLACK = 1 + 1e-6;

/**
 * One attempt's federated evaluation (protocol/federated-eval.ts): each cohort member's held-out
 * counts, checked as they arrive, and the sum of those whose update was accepted. A member's counts
 * are held to what its example count declared at hello allows: at most ⌊n × holdoutFraction⌋
 * examples (core/data/holdout.ts), each adding at most the largest per-example loss.
 */
export class FederatedEvalTally {
  private readonly sum: EvalCounts;
  private members = 0;

  constructor(
    private readonly settings: FederatedEvalSettings,
    private readonly numClasses: number,
    /** The example count each cohort member declared at hello. */
    private readonly declaredExamples: ReadonlyMap<string, number>,
  ) {
    const zeros = () => new Array<number>(numClasses).fill(0);
    this.sum = { examples: 0, correct: 0, lossSum: 0, support: zeros(), truePositives: zeros(), predicted: zeros() };
  }

  /** A member's counts as sent: null when it sent none (its update still counts), else the checked counts or why they are refused. */
  check(clientId: string, raw: unknown): EvalCounts | { problem: string } | null {
    if (raw === undefined) return null;
    const parsed = EvalCountsSchema.safeParse(raw);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ` : '') + i.message);
      return { problem: `federated evaluation counts refused: ${issues.join('; ')}` };
    }
    const counts = parsed.data;
    if (counts.support.length !== this.numClasses) {
      return { problem: `federated evaluation counts refused: ${counts.support.length} classes, the model has ${this.numClasses}` };
    }
    const declared = this.declaredExamples.get(clientId) ?? 0;
    const most = holdoutSize(declared, this.settings.holdoutFraction);
    if (counts.examples > most) {
      return {
        problem: `federated evaluation counts refused: ${counts.examples} held-out examples, at most ${most} (holdoutFraction ${this.settings.holdoutFraction} of the ${declared} declared at hello)`,
      };
    }
    if (counts.lossSum > counts.examples * MAX_EXAMPLE_LOSS * LOSS_SUM_SLACK) {
      return {
        problem: `federated evaluation counts refused: loss sum ${counts.lossSum} exceeds ${counts.examples} examples × ${MAX_EXAMPLE_LOSS.toFixed(2)}`,
      };
    }
    return counts;
  }

  /** Adds an accepted member's checked counts. */
  add(counts: EvalCounts): void {
    const s = this.sum;
    s.examples += counts.examples;
    s.correct += counts.correct;
    s.lossSum += counts.lossSum;
    for (let c = 0; c < this.numClasses; c++) {
      s.support[c] += counts.support[c];
      s.truePositives[c] += counts.truePositives[c];
      s.predicted[c] += counts.predicted[c];
    }
    this.members += 1;
  }

  /** Accuracy, mean loss and macro-F1 (core/train/metrics.ts) of the summed counts; null metrics without examples. */
  result(): FederatedEvalResult {
    const { examples, correct, lossSum } = this.sum;
    if (examples === 0) return { examples, members: this.members, accuracy: null, loss: null, macroF1: null };
    return { examples, members: this.members, accuracy: correct / examples, loss: lossSum / examples, macroF1: macroF1FromCounts(this.sum) };
  }
}
