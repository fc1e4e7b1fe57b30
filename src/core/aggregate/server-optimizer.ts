/**
 * Server optimizers: the step from the round's aggregate update Δ_t (the mean client delta, or a
 * robust rule's output) to the new global weights x_{t+1}. The moments are the optimizer's state;
 * a step never mutates its inputs and returns the next state, so a round that is refused leaves the
 * state as it was, and the state can be committed with the round it belongs to.
 */
export const SERVER_OPTIMIZERS = ['sgd', 'momentum', 'adam', 'yogi', 'adagrad'] as const;
export type ServerOptimizerName = (typeof SERVER_OPTIMIZERS)[number];

export interface ServerOptimizerSettings {
  optimizer: ServerOptimizerName;
  /** η: the server learning rate. */
  serverLr: number;
  /** β of server momentum (FedAvgM). */
  serverMomentum: number;
  /** β₁, β₂ and the adaptivity τ of FedAdam, FedYogi, FedAdagrad (β₂ is unused by Adagrad). */
  beta1: number;
  beta2: number;
  tau: number;
}

/** The optimizer's state after `steps` rounds: the first moment m and the second moment v (null where unused). */
export interface OptimizerState {
  steps: number;
  m: Float32Array | null;
  v: Float32Array | null;
}

export const INITIAL_OPTIMIZER_STATE: OptimizerState = { steps: 0, m: null, v: null };

/** Which moments an optimizer keeps (the checkpoint codec checks a stored state against this). */
export function optimizerMoments(optimizer: ServerOptimizerName): { m: boolean; v: boolean } {
  return { m: optimizer !== 'sgd', v: optimizer === 'adam' || optimizer === 'yogi' || optimizer === 'adagrad' };
}

/** One server step: x_{t+1} from x_t = `global`, Δ_t = `delta` and the state after t rounds. */
export function serverStep(
  settings: ServerOptimizerSettings,
  global: Float32Array,
  delta: Float32Array,
  state: OptimizerState,
): { next: Float32Array; state: OptimizerState } {
  const d = global.length;
  if (delta.length !== d) throw new RangeError(`the update has ${delta.length} values, the model ${d}`);
  const { optimizer, serverLr: eta, serverMomentum, beta1, beta2, tau } = settings;
  const next = new Float32Array(d);
  if (optimizer === 'sgd') {
    // FedAvg's server step (McMahan et al. 2017): x_{t+1} = x_t + η Δ_t.
    for (let i = 0; i < d; i++) next[i] = global[i] + eta * delta[i];
    return { next, state: { steps: state.steps + 1, m: null, v: null } };
  }
  const mPrev = state.m ?? new Float32Array(d);
  if (mPrev.length !== d) throw new RangeError(`the optimizer state has ${mPrev.length} values, the model ${d}`);
  const m = new Float32Array(d);
  if (optimizer === 'momentum') {
    // FedAvgM (Hsu et al. 2019, "Measuring the Effects of Non-Identical Data Distribution", Sec. 3): m_t = β m_{t−1} + Δ_t; x_{t+1} = x_t + η m_t.
    for (let i = 0; i < d; i++) {
      m[i] = serverMomentum * mPrev[i] + delta[i];
      next[i] = global[i] + eta * m[i];
    }
    return { next, state: { steps: state.steps + 1, m, v: null } };
  }
  // Reddi et al. 2021, "Adaptive Federated Optimization", Algorithm 2, with m_{−1} = 0 and v_{−1} = τ².
  const vPrev = state.v ?? new Float32Array(d).fill(tau * tau);
  if (vPrev.length !== d) throw new RangeError(`the optimizer state has ${vPrev.length} values, the model ${d}`);
  const v = new Float32Array(d);
  for (let i = 0; i < d; i++) {
    const g = delta[i];
    const g2 = g * g;
    m[i] = beta1 * mPrev[i] + (1 - beta1) * g; // m_t = β₁ m_{t−1} + (1 − β₁) Δ_t
    if (optimizer === 'adagrad')
      v[i] = vPrev[i] + g2; // v_t = v_{t−1} + Δ_t²
    else if (optimizer === 'yogi')
      v[i] = vPrev[i] - (1 - beta2) * g2 * Math.sign(vPrev[i] - g2); // v_t = v_{t−1} − (1 − β₂) Δ_t² sign(v_{t−1} − Δ_t²)
    else v[i] = beta2 * vPrev[i] + (1 - beta2) * g2; // v_t = β₂ v_{t−1} + (1 − β₂) Δ_t²
    next[i] = global[i] + (eta * m[i]) / (Math.sqrt(v[i]) + tau); // x_{t+1} = x_t + η m_t / (√v_t + τ)
  }
  return { next, state: { steps: state.steps + 1, m, v } };
}
