/** The PyTorch-like module tree and core layers. */
export * from "./module";
export * from "./layers";
export * from "./containers";
export * from "./layout";
export * from "./init";
