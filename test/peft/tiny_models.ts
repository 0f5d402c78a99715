/** Small models for the PEFT tests: a conv + MLP net with peft-style nested layer names, and a tiny ViT. */
import * as tf from "@tensorflow/tfjs";
import { Conv2d, Linear, Module, ModuleList, SeedSequence } from "../../lib/nn";
import type { ImageClassifier, Stage } from "../../lib/models/types";
import { createVit } from "../../lib/models/vit";

class MlpBlock extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(d: number, seeds: SeedSequence) {
    super();
    this.fc1 = this.registerModule("fc1", new Linear(d, 2 * d, { seeds }));
    this.fc2 = this.registerModule("fc2", new Linear(2 * d, d, { seeds }));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.add(x, this.fc2.apply(tf.relu(this.fc1.apply(x)))));
  }
}

class Encoder extends Module {
  readonly layers: ModuleList;
  constructor(d: number, depth: number, seeds: SeedSequence) {
    super();
    this.layers = this.registerModule(
      "layers",
      new ModuleList(Array.from({ length: depth }, () => new MlpBlock(d, seeds))),
    );
  }
  forward(x: tf.Tensor): tf.Tensor {
    let y = x;
    for (let i = 0; i < this.layers.length; i++) y = this.layers.at(i).apply(y);
    return y;
  }
}

/**
 * conv1 (3×3) → relu → pw (1×1) → mean → encoder.layers.N.{fc1,fc2} → head. Module names follow the peft
 * convention (`encoder.layers.N.…`), so layers_to_transform works as in Python.
 */
export class TinyNet extends Module implements ImageClassifier {
  readonly arch = "tiny";
  readonly numClasses = 3;
  readonly numFeatures = 6;
  readonly headNames = ["head"];
  readonly conv1: Conv2d;
  readonly pw: Conv2d;
  readonly encoder: Encoder;
  readonly head: Linear;
  constructor(seed = 1) {
    super();
    const seeds = new SeedSequence(seed);
    this.conv1 = this.registerModule("conv1", new Conv2d(3, 4, 3, { padding: 1, seeds }));
    this.pw = this.registerModule("pw", new Conv2d(4, 6, 1, { seeds }));
    this.encoder = this.registerModule("encoder", new Encoder(6, 2, seeds));
    this.head = this.registerModule("head", new Linear(6, 3, { seeds }));
  }
  forwardFeatures(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.encoder.apply(tf.mean(this.pw.apply(tf.relu(this.conv1.apply(x))), [1, 2]))); // [B, 6]
  }
  forwardHead(f: tf.Tensor): tf.Tensor {
    return this.getSubmodule("head").apply(f);
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.forwardHead(this.forwardFeatures(x)));
  }
  resetClassifier(): void {
    throw new Error("not used in tests");
  }
  stages(): Stage[] {
    return [
      { name: "stem", prefixes: ["conv1", "pw"] },
      { name: "encoder.layers.0", prefixes: ["encoder.layers.0"] },
      { name: "encoder.layers.1", prefixes: ["encoder.layers.1"] },
      { name: "head", prefixes: ["head"] },
    ];
  }
}

/** A 2-block ViT (16-d, 4 heads, 16×16 input, 4 classes) with timm names. */
export function tinyVit(seed = 0): ImageClassifier {
  return createVit({ imgSize: 16, patchSize: 8, embedDim: 16, depth: 2, numHeads: 4, numClasses: 4, seed });
}

/** A deterministic NHWC batch. */
export function tinyImages(b: number, size: number, seed = 3): tf.Tensor {
  return tf.randomNormal([b, size, size, 3], 0, 1, "float32", seed);
}
