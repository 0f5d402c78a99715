import { initBackend, loadSharedMobileNetV2, pbcJpegSplits, cachedFeatures, logisticProbeRun } from "./lib";
(async () => {
  await initBackend();
  const m = loadSharedMobileNetV2();
  const sp = pbcJpegSplits({ seed: 0 });
  for (const size of [160]) {
    const t = Date.now(); const c0 = process.cpuUsage();
    const tr = { size, resize: size, normalize: "inception" };
    const f = async (ds: any) => { const r = await cachedFeatures(m, `mnv2-035@${size}`, ds, { transform: tr, batchSize: 32 }); return { x: r.data, n: r.n, itemShape: [r.d], labels: Float32Array.from(ds.items, (it: any) => it.label), ids: r.ids }; };
    const ftr = await f(sp.train); const fte = await f(sp.test);
    const c = process.cpuUsage(c0);
    console.log(size, "features wall s", (Date.now() - t) / 1000, "cpu s", c.user / 1e6);
    const r = logisticProbeRun(ftr as any, { test: fte as any }, 8, { modelId: "m", method: "lp", dataset: "pbc", seed: 0, scale: "ci", config: {}, backboneParams: 0 });
    console.log(size, "probe acc", r.record.metrics.test.accuracy, "time", r.record.wallTimeS, r.record.extra);
  }
})();
