/** The strategies bench's parts, each runnable alone with `--only` (here apart, so bench/run.ts loads no simulation to parse its flags). */
export const STRATEGY_PARTS = ['attack', 'noniid', 'finetune'] as const;
export type StrategyPart = (typeof STRATEGY_PARTS)[number];
