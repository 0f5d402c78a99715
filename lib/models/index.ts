/** Image models (ViTs and CNNs) in timm/torchvision names, their pretrained registry, converters and parity checks. */
export * from "./types";
