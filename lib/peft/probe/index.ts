/** Probes on frozen features: the feature cache, L-BFGS logistic regression (UNI), a trained linear head, kNN. */
export * from "./lbfgs";
export * from "./logreg";
export * from "./feature_cache";
export * from "./knn";
export * from "./head_init";
