/** Notebook displays: MIME bundles, the injectable display sink, and the charts, tables and dashboards built on it. */
export * from "./bundle";
export * from "./sink";
export * from "./display";
export * from "./plotly";
export * from "./table";
export * from "./tensor";
export * from "./image_grid";
export * from "./charts";
export * from "./run_charts";
export * from "./params";
export * from "./dashboard";
export * from "./lora";
