/**
 * AlexNet as torchvision builds it (the one-GPU variant of Krizhevsky 2014): `features.{0,3,6,8,10}` convs,
 * `avgpool` (adaptive, 6×6), `classifier.{1,4,6}` Linears with dropout before the first two. NHWC inside; the flatten
 * runs in torch's NCHW order so `classifier.1.weight` loads unchanged.
 */
import * as tf from "@tensorflow/tfjs";
import { Activation, AdaptiveAvgPool2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d } from "../nn/layers";
import { Sequential } from "../nn/containers";
import { SeedSequence } from "../nn/init";
import { checkIntList, checkPositiveInt, CnnClassifier, makeHead } from "./cnn_common";
import type { Stage } from "./types";

/** AlexNet options; defaults are torchvision's. */
export interface AlexNetOptions {
  /** Output channels of the five convs. Default [64, 192, 384, 256, 256]. */
  channels?: number[];
  /** Width of the two hidden classifier layers. Default 4096. */
  classifierHidden?: number;
  /** Dropout in the classifier. Default 0.5. */
  dropout?: number;
  /** Output classes; 0 gives an Identity head. Default 1000. */
  numClasses?: number;
  inChans?: number;
  seed?: number;
}

/** The manifest / JSON form. */
export interface AlexNetJson {
  channels?: number[];
  classifier_hidden?: number;
  dropout?: number;
  num_classes?: number;
  in_chans?: number;
}

/** Converts the JSON form to options. */
export function alexnetOptionsFromJson(j: AlexNetJson): AlexNetOptions {
  return {
    channels: j.channels,
    classifierHidden: j.classifier_hidden,
    dropout: j.dropout,
    numClasses: j.num_classes,
    inChans: j.in_chans,
  };
}

// Conv geometry per torchvision: [kernel, stride, padding]; max-pools (3, 2) follow convs 0, 1 and 4.
const CONVS: [number, number, number][] = [
  [11, 4, 2],
  [5, 1, 2],
  [3, 1, 1],
  [3, 1, 1],
  [3, 1, 1],
];
const POOL_AFTER = new Set([0, 1, 4]);

/** torchvision's AlexNet on NHWC input; pre-logits features are the output of classifier.5. */
export class AlexNet extends CnnClassifier {
  readonly arch = "alexnet";
  readonly inChans: number;
  private readonly convIndices: number[] = [];
  private readonly flatten = new Flatten(true);
  constructor(readonly options: AlexNetOptions = {}) {
    const channels = options.channels ?? [64, 192, 384, 256, 256];
    const hidden = options.classifierHidden ?? 4096;
    const numClasses = options.numClasses ?? 1000;
    checkIntList(channels, "AlexNetOptions.channels", 5);
    checkPositiveInt(hidden, "AlexNetOptions.classifierHidden");
    super(numClasses, hidden, "classifier.6");
    this.inChans = options.inChans ?? 3;
    checkPositiveInt(this.inChans, "AlexNetOptions.inChans");
    const seeds = new SeedSequence(options.seed);
    const p = options.dropout ?? 0.5;
    const features = new Sequential();
    let ch = this.inChans;
    let idx = 0;
    CONVS.forEach(([k, stride, padding], i) => {
      this.convIndices.push(idx);
      features.add(String(idx++), new Conv2d(ch, channels[i], k, { stride, padding, seeds }));
      features.add(String(idx++), new Activation("relu"));
      if (POOL_AFTER.has(i)) features.add(String(idx++), new MaxPool2d(3, 2));
      ch = channels[i];
    });
    this.registerModule("features", features);
    this.registerModule("avgpool", new AdaptiveAvgPool2d([6, 6]));
    this.registerModule(
      "classifier",
      new Sequential(
        new Dropout(p, seeds.next()),
        new Linear(ch * 36, hidden, { seeds }),
        new Activation("relu"),
        new Dropout(p, seeds.next()),
        new Linear(hidden, hidden, { seeds }),
        new Activation("relu"),
        makeHead(hidden, numClasses, seeds),
      ),
    );
  }

  forwardFeatures(x: tf.Tensor): tf.Tensor {
    this.checkInput(x, this.inChans);
    return tf.tidy(() => {
      let y = this.getSubmodule("avgpool").apply(this.getSubmodule("features").apply(x)); // [B, 6, 6, C]
      y = this.flatten.apply(y); // [B, C·36] in torch's (C, H, W) order
      for (const [name, m] of this.getSubmodule("classifier").children()) {
        if (name !== "6") y = m.apply(y);
      }
      return y; // [B, classifierHidden]
    });
  }

  stages(): Stage[] {
    return [
      ...this.convIndices.map((i) => ({ name: `features.${i}`, prefixes: [`features.${i}`] })),
      { name: "classifier.pre_logits", prefixes: ["classifier.1", "classifier.4"] },
      { name: "classifier.6", prefixes: ["classifier.6"] },
    ];
  }
}

/** torchvision alexnet. */
export const alexnet = (o: AlexNetOptions = {}) => new AlexNet(o);
