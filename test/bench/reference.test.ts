/** The --compare machinery: parsing the shared scripts' output, running a reference command, and the ratios. */
import { strict as assert } from "node:assert";
import { ConfigError } from "../../lib/errors";
import { computeRatios } from "../../lib/bench/run";
import { parseReferenceOutput, runReference, workloadForFigure } from "../../lib/bench/reference";
import type { WorkloadResult } from "../../lib/bench/types";

interface ParseCase {
  name: string;
  text: string;
  figures: [label: string, value: number, workload: string | null][];
  torch: string | null;
  threads: number | null;
}

const PARSE_CASES: ParseCase[] = [
  {
    name: "torch_vit_lora.py (torch 2.x)",
    text: "torch 2.3.0+cpu threads=2 ViT-S/16 B=16: LoRA train 4.2 img/s, inference 10.9 img/s\n",
    figures: [
      ["LoRA train", 4.2, "vit_lora_train"],
      ["inference", 10.9, "vit_infer"],
    ],
    torch: "2.3.0+cpu",
    threads: 2,
  },
  {
    name: "torch_mobilenetv2.py (Debian 1.13), after warnings",
    text:
      "/usr/lib/python3/dist-packages/torchvision/io/image.py:13: UserWarning: Failed to load image Python extension\n" +
      "torch 1.13.0 MobileNetV2-0.35@224 B=32: full-FT train 21.4 img/s, inference 91.0 img/s",
    figures: [
      ["full-FT train", 21.4, "mnv2_train"],
      ["inference", 91.0, "mnv2_infer"],
    ],
    torch: "1.13.0",
    threads: null,
  },
  {
    name: "both scripts in one output, integer and exponent figures",
    text: "torch 1.13.0 threads=1 ViT-S/16 B=16: LoRA train 3 img/s, inference 5.6 img/s\r\nfull-FT train 2.1e1 img/s, inference 91 img/s\n",
    figures: [
      ["LoRA train", 3, "vit_lora_train"],
      ["inference", 5.6, "vit_infer"],
      ["full-FT train", 21, "mnv2_train"],
      ["inference", 91, "mnv2_infer"],
    ],
    torch: "1.13.0",
    threads: 1,
  },
  {
    name: "an unknown figure is kept but mapped to no workload",
    text: "decode: 123.5 img/s",
    figures: [["decode", 123.5, null]],
    torch: null,
    threads: null,
  },
  {
    name: "no figure at all",
    text: "Traceback (most recent call last):\nModuleNotFoundError: No module named 'torch'",
    figures: [],
    torch: null,
    threads: null,
  },
];

describe("bench --compare: reference output parser", () => {
  for (const c of PARSE_CASES) {
    it(c.name, () => {
      const p = parseReferenceOutput(c.text);
      assert.deepEqual(
        p.figures.map((f) => [f.label, f.imgPerS, f.workload]),
        c.figures,
      );
      assert.equal(p.torchVersion, c.torch);
      assert.equal(p.threads, c.threads);
    });
  }

  it("maps labels by the line's model", () => {
    assert.equal(workloadForFigure("inference", "ViT-S/16 B=16: LoRA train 1 img/s, inference 2 img/s"), "vit_infer");
    assert.equal(
      workloadForFigure("inference", "MobileNetV2-0.35@224 B=32: full-FT train 1 img/s, inference 2 img/s"),
      "mnv2_infer",
    );
    assert.equal(workloadForFigure("throughput", "ViT LoRA throughput 3 img/s"), null);
  });
});

describe("bench --compare: running a reference command", () => {
  const node = JSON.stringify(process.execPath);

  it("runs a fake reference and reads its figures", async () => {
    const r = await runReference(`${node} -e 'console.log("LoRA train 2.0 img/s, inference 4.0 img/s")'`);
    assert.equal(r.exitCode, 0);
    assert.deepEqual(
      r.figures.map((f) => [f.workload, f.imgPerS]),
      [
        ["vit_lora_train", 2],
        ["vit_infer", 4],
      ],
    );
    assert.equal(r.loadBefore.length, 3);
    assert.ok(r.wallS > 0);
  });

  it("fails loudly on a failing command or one without figures", async () => {
    await assert.rejects(
      runReference(`${node} -e 'process.exit(3)'`),
      (e: unknown) => e instanceof ConfigError && /exit code 3/.test(e.message + JSON.stringify(e)),
    );
    await assert.rejects(runReference(`${node} -e 'console.log("hello")'`), ConfigError);
  });

  it("computes peftlab/reference for the workload and its fast paths, null when it did not run", async () => {
    const ref = await runReference(
      `${node} -e 'console.log("torch 9.9 threads=2: LoRA train 2.0 img/s, inference 4.0 img/s")'`,
    );
    const row = (workload: string, imgPerS: number, fastPathOf?: string) =>
      ({ workload, variant: "peftlab", imgPerS, gflopPerImage: 10, fastPathOf }) as WorkloadResult;
    const results = [
      row("vit_infer", 1),
      row("vit_infer_merged", 3, "vit_infer"),
      { ...row("vit_infer", 0.5), variant: "tfjs-kernels" } as WorkloadResult,
    ];
    const ratios = computeRatios(results, [ref]);
    const by = new Map(ratios.map((r) => [r.workload, r]));
    assert.equal(by.get("vit_infer")!.ratio, 0.25);
    assert.equal(by.get("vit_infer_merged")!.ratio, 0.75);
    assert.equal(by.get("vit_infer")!.referenceGflops, 40);
    assert.equal(by.get("vit_lora_train")!.ratio, null);
    assert.equal(by.get("vit_lora_train")!.referenceImgPerS, 2);
    assert.match(by.get("vit_infer")!.reference, /torch 9\.9: inference/);
  });
});
