import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend";
(async () => {
  await initBackend({ prefer: "wasm", log: null });
  const cases: [number[], number[], boolean, boolean][] = [
    [[5,7],[7,3],false,false],[[5,7],[3,7],false,true],[[7,5],[7,3],true,false],[[7,5],[3,7],true,true],
    [[4,5,7],[4,7,3],false,false],[[4,7,5],[4,3,7],true,true],[[4,5,7],[7,3],false,false],[[5,7],[4,7,3],false,false],
    [[2,1,5,7],[3,3,7],false,true],[[1,1],[1,1],true,true],[[3,0,4],[4,2],false,false],[[3,2,0],[0,2],false,false],[[1,5,7],[1,7,3],false,false],
  ];
  for (const [sa, sb, ta, tb] of cases) {
    const a = tf.randomNormal(sa), b = tf.randomNormal(sb);
    const y = tf.matMul(a, b, ta, tb).dataSync();
    let yb: any; try { yb = tf.fused.matMul({a, b, transposeA: ta, transposeB: tb, bias: tf.ones([tb ? sb[sb.length-2] : sb[sb.length-1]]), activation: "relu"}).dataSync(); } catch (e) { yb = null; console.log("fused threw", (e as Error).message.slice(0,80)); }
    const av = a.arraySync(), bv = b.arraySync();
    await tf.setBackend("cpu");
    const a2 = tf.tensor(av as any), b2 = tf.tensor(bv as any);
    const r = tf.matMul(a2, b2, ta, tb).dataSync();
    const rb = tf.relu(tf.add(tf.matMul(a2, b2, ta, tb), 1)).dataSync();
    let m = 0; for (let i = 0; i < r.length; i++) m = Math.max(m, Math.abs(r[i]-y[i]), yb ? Math.abs(rb[i]-yb[i]) : 0);
    console.log(sa, sb, ta, tb, y.length === r.length, m.toExponential(2));
    await tf.setBackend("wasm");
  }
})();
