import { strict as assert } from "node:assert";
import {
  memorySink,
  TrainingDashboard,
  paramSummaryBundle,
  paramTotals,
  confusionMatrixChart,
  rocChart,
  PLOTLY_MIME,
  JUPYTER_DISPLAY,
  imageGrid,
} from "../../lib/display";
import { ShapeError } from "../../lib/errors";

describe("training dashboard", () => {
  it("shares one output across the runs of a sweep and finishes after the last", () => {
    const sink = memorySink();
    let now = 0;
    const dash = new TrainingDashboard(sink, { runs: 3, title: "sweep", maxUpdatesPerSecond: 1000, now: () => now });
    const texts: string[] = [];
    for (let run = 0; run < 3; run++) {
      dash.onTrainBegin({ epochs: 1, stepsPerEpoch: 4 });
      for (let step = 1; step <= 4; step++) {
        now += 1000; // 1 s per step: 4 s per run
        dash.onBatchEnd({ epoch: 0, step, loss: 1 / step });
      }
      dash.onTrainEnd();
      const last = sink.messages[sink.messages.length - 1];
      texts.push(String(last.type === "clear_output" ? "" : last.data["text/plain"]));
      if (run === 0) {
        // After run 1 of 3 (4 s), two runs of ~4 s remain.
        assert.match(texts[0], /^sweep: run 1\/3 epoch 1\/1 step 4\/4 .* ETA 8\.0s$/);
        assert.equal(
          (last.type !== "clear_output" && (last.data["application/json"] as { finished: boolean })).finished,
          false,
        );
      }
    }
    assert.equal(sink.messages.filter((m) => m.type === "display_data").length, 1, "one output for the whole sweep");
    assert.match(texts[2], /^sweep: run 3\/3 .*\[#{20}\].* done in 12\.0s$/);
    const end = sink.messages[sink.messages.length - 1];
    assert.equal(end.type !== "clear_output" && (end.data["application/json"] as { finished: boolean }).finished, true);
  });

  it("updates one output in place, throttled, and ends finished", () => {
    const sink = memorySink();
    let now = 0;
    const dash = new TrainingDashboard(sink, { maxUpdatesPerSecond: 4, now: () => now });
    dash.onTrainBegin({ epochs: 2, stepsPerEpoch: 50 });
    for (let epoch = 0; epoch < 2; epoch++) {
      for (let step = 1; step <= 50; step++) {
        now += 20; // 50 batches/s: only 4 renders per second may go out
        dash.onBatchEnd({ epoch, step, loss: 1 / step, imgPerSec: 400 });
      }
      dash.onEpochEnd({ epoch, logs: { val_accuracy: 0.5 + epoch / 10 } });
    }
    dash.onTrainEnd();
    const displays = sink.messages.filter((m) => m.type === "display_data");
    const updates = sink.messages.filter((m) => m.type === "update_display_data");
    assert.equal(displays.length, 1);
    assert.ok(updates.every((u) => u.type === "update_display_data" && u.displayId === displays[0].displayId));
    // 2 s of batches at ≤ 4/s, plus begin, 2 epoch ends and the end.
    assert.ok(dash.renders <= 4 * 2 + 4 + 1 && dash.renders >= 8, `renders ${dash.renders}`);
    const last = updates[updates.length - 1].data;
    assert.equal((last["application/json"] as { finished: boolean }).finished, true);
    assert.match(String(last["text/plain"]), /epoch 2\/2 step 50\/50 \[#{20}\] loss 0\.0200 400\.0 img\/s done/);
  });
});

describe("evaluation displays", () => {
  it("summarises trainable vs frozen parameters", () => {
    const p = [
      { name: "blocks.0.attn.qkv.lora_A", numel: 100, trainable: true },
      { name: "blocks.0.attn.qkv.weight", numel: 900, trainable: false },
    ];
    assert.deepEqual(paramTotals(p), { total: 1000, trainable: 100, frozen: 900, fraction: 0.1 });
    assert.match(String(paramSummaryBundle(p)["text/plain"]), /trainable 100 \/ 1,000 parameters \(10\.000%\)/);
  });

  it("charts validate shapes and emit Plotly JSON", () => {
    assert.throws(() => confusionMatrixChart([[1, 2]], ["a"]), ShapeError);
    assert.throws(() => rocChart([{ label: "a", fpr: [0, 1], tpr: [1] }]), ShapeError);
    const b = rocChart([{ label: "a", fpr: [0, 1], tpr: [0, 1], auc: 0.5 }], {
      label: "macro",
      fpr: [0, 1],
      tpr: [0, 1],
    })[JUPYTER_DISPLAY]() as Record<string, { data: unknown[] }>;
    assert.equal(b[PLOTLY_MIME].data.length, 3);
  });

  it("encodes an image grid as PNG and counts misclassifications", async () => {
    const img = (v: number) => ({ data: new Array(4 * 4).fill(v), height: 4, width: 4, channels: 1 as const });
    const g = await imageGrid([img(0), img(1), img(0.5)], { labels: [0, 1, 1], predictions: [0, 0, 1] });
    assert.deepEqual([...g.png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
    const b = (await g[JUPYTER_DISPLAY]()) as Record<string, string>;
    assert.match(b["text/plain"], /3 of 3 images, 1 misclassified/);
  });
});
