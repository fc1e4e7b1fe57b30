import { z } from 'zod';

const positiveInt = z.number().int().positive();

/**
 * Conv activations are limited to those tfjs-layers runs through the plain (unfused) conv2d op
 * while training. Any other activation ('linear', 'tanh', ...) makes tfjs take the fused conv
 * kernel, whose gradient calls Conv2DBackpropFilter directly: the wasm backend has no such kernel
 * and the replacement in ../train/conv-gradients.ts does not reach that path.
 */
const Conv2dLayerSchema = z.object({
  type: z.literal('conv2d'),
  filters: positiveInt,
  kernelSize: positiveInt,
  activation: z.enum(['relu', 'elu']),
  padding: z.enum(['same', 'valid']),
});

const MaxPool2dLayerSchema = z.object({
  type: z.literal('maxPool2d'),
  poolSize: positiveInt,
});

const FlattenLayerSchema = z.object({ type: z.literal('flatten') });

const DenseLayerSchema = z.object({
  type: z.literal('dense'),
  units: positiveInt,
  activation: z.enum(['relu', 'elu', 'tanh', 'sigmoid', 'linear', 'softmax']),
});

export const LayerSpecSchema = z.discriminatedUnion('type', [Conv2dLayerSchema, MaxPool2dLayerSchema, FlattenLayerSchema, DenseLayerSchema]);

/**
 * A model as a small JSON layer list: what the server announces and clients rebuild.
 * The last layer must be a softmax dense layer with one unit per class (training uses
 * cross-entropy on its probabilities).
 */
export const ModelSpecSchema = z
  .object({
    name: z.string().min(1).max(64),
    inputShape: z.array(positiveInt).min(1).max(3),
    numClasses: z.number().int().min(2),
    layers: z.array(LayerSpecSchema).min(1).max(64),
  })
  .superRefine((spec, ctx) => {
    const last = spec.layers[spec.layers.length - 1];
    if (last.type !== 'dense' || last.activation !== 'softmax' || last.units !== spec.numClasses) {
      ctx.addIssue({
        code: 'custom',
        path: ['layers', spec.layers.length - 1],
        message: `the last layer must be a softmax dense layer with ${spec.numClasses} units (numClasses)`,
      });
    }
  });

export type LayerSpec = z.infer<typeof LayerSpecSchema>;
export type ModelSpec = z.infer<typeof ModelSpecSchema>;

/** The built-in models, by name: the one list of model names (CLI, server config, simulator). */
const BUILT_IN_SPECS = {
  /** The CNN of McMahan et al. 2017 (FedAvg), "CNN" for MNIST: 1,663,370 parameters. */
  cnn: {
    name: 'cnn',
    inputShape: [28, 28, 1],
    numClasses: 10,
    layers: [
      { type: 'conv2d', filters: 32, kernelSize: 5, activation: 'relu', padding: 'same' },
      { type: 'maxPool2d', poolSize: 2 },
      { type: 'conv2d', filters: 64, kernelSize: 5, activation: 'relu', padding: 'same' },
      { type: 'maxPool2d', poolSize: 2 },
      { type: 'flatten' },
      { type: 'dense', units: 512, activation: 'relu' },
      { type: 'dense', units: 10, activation: 'softmax' },
    ],
  },
  /** The "2NN" of McMahan et al. 2017: 784-200-200-10, 199,210 parameters. */
  mlp: {
    name: 'mlp',
    inputShape: [28, 28, 1],
    numClasses: 10,
    layers: [
      { type: 'flatten' },
      { type: 'dense', units: 200, activation: 'relu' },
      { type: 'dense', units: 200, activation: 'relu' },
      { type: 'dense', units: 10, activation: 'softmax' },
    ],
  },
  /** Multinomial logistic regression 784 -> 10: 7,850 parameters. */
  logreg: {
    name: 'logreg',
    inputShape: [28, 28, 1],
    numClasses: 10,
    layers: [{ type: 'flatten' }, { type: 'dense', units: 10, activation: 'softmax' }],
  },
} satisfies Record<string, ModelSpec>;

export type ModelName = keyof typeof BUILT_IN_SPECS;
export const MODEL_SPECS: Readonly<Record<ModelName, ModelSpec>> = BUILT_IN_SPECS;
/** The model names, derived from MODEL_SPECS. */
export const MODEL_NAMES = Object.keys(BUILT_IN_SPECS) as [ModelName, ...ModelName[]];
/** A model name as a zod enum, for configs and command lines. */
export const ModelNameSchema = z.enum(MODEL_NAMES);

export function isModelName(name: string): name is ModelName {
  return Object.hasOwn(MODEL_SPECS, name);
}

/** The built-in spec called `name`; throws, listing the known names, for any other. */
export function modelSpecFor(name: string): ModelSpec {
  if (!isModelName(name)) {
    throw new Error(`unknown model '${name}': expected one of ${MODEL_NAMES.join(', ')}`);
  }
  return MODEL_SPECS[name];
}
