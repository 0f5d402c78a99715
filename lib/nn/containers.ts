/**
 * Containers, as torch.nn's: Sequential (children "0", "1", … applied in order, with conv → BN [→ ReLU] folded at
 * inference), runChain (the same for models that call their layers by hand) and ModuleList.
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../errors";
import { canFold, type FoldedActivation, foldedConvBn } from "./conv_bn_fold";
import { Activation, BatchNorm2d, Conv2d } from "./layers";
import { Module } from "./module";

/** Children named "0", "1", … applied in order. */
export class Sequential extends Module {
  readonly layers: Module[];
  constructor(...layers: Module[]) {
    super();
    this.layers = layers.map((m, i) => this.registerModule(String(i), m));
  }
  /** Adds a named child (torchvision's DenseNet names its children: `denseblock1`, …). */
  add(name: string, m: Module): this {
    this.registerModule(name, m);
    this.layers.push(m);
    return this;
  }
  forward(x: tf.Tensor): tf.Tensor {
    return runChain(
      [...this.children()].map(([, m]) => m),
      x,
    );
  }
}

/**
 * Applies `mods` in order. At inference, conv → BN (eval) [→ ReLU/ReLU6] runs as one fused conv
 * (lib/nn/conv_bn_fold.ts); models that call their layers by hand (ResNet's blocks) use it for the same folding.
 */
export function runChain(mods: Module[], x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    let y = x;
    for (let i = 0; i < mods.length; i++) {
      const [conv, bn, act] = [mods[i], mods[i + 1], mods[i + 2]];
      if (conv instanceof Conv2d && bn instanceof BatchNorm2d && plainApply(conv, bn) && canFold(conv, bn, y)) {
        const fusedAct = act instanceof Activation && plainApply(act) ? foldable(act) : null;
        y = foldedConvBn(conv, bn, fusedAct ?? "linear", y);
        i += fusedAct ? 2 : 1;
        continue;
      }
      y = mods[i].apply(y);
    }
    return y;
  });
}

/** Whether none of `mods` has its apply wrapped (a wrapper must see its module's own input and output). */
function plainApply(...mods: Module[]): boolean {
  return mods.every((m) => m.apply === Module.prototype.apply);
}

/** The fused-conv activation of an Activation module, or null when it cannot be fused. */
function foldable(a: Activation): FoldedActivation | null {
  return a.kind === "relu" || a.kind === "relu6" ? a.kind : null;
}

/** A list of modules named "0", "1", …; it has no forward of its own. */
export class ModuleList extends Module {
  constructor(readonly items: Module[]) {
    super();
    items.forEach((m, i) => this.registerModule(String(i), m));
  }
  get length(): number {
    return this.items.length;
  }
  /** The i-th module as currently registered (follows setSubmodule replacements). */
  at(i: number): Module {
    return this.getSubmodule(String(i));
  }
  forward(): tf.Tensor {
    throw new ConfigError("ModuleList has no forward", { fix: "iterate over its items" });
  }
}
