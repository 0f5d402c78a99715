/** Image models (ViTs and CNNs) in timm/torchvision names, their pretrained registry, converters and parity checks. */
export * from "./types";
export {
  CnnClassifier,
  initTorchvision,
  loadTorchvisionStateDict,
  normaliseBatchCounters,
  type TorchvisionInit,
} from "./cnn_common";
export * from "./resnet";
export * from "./densenet";
export * from "./vgg";
export * from "./alexnet";
export * from "./mobilenetv2";
export * from "./cnn_builders";
export * from "./convert/keras_mobilenet";
export * from "./vit_config";
export * from "./vit_json";
export * from "./vit_blocks";
export * from "./vit";
export * from "./pos_embed";
export * from "./convert";
export * from "./constants";
export * from "./registry";
export * from "./builders";
export * from "./create";
export * from "./pretrained_load";
export * from "./parity";
export * from "./cnn_prefix";
export * from "./vit_repool";
