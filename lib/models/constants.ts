/** Normalisation constants of the pretrained models (the same values timm uses). */

/** ImageNet normalisation (torchvision / timm IMAGENET_DEFAULT_MEAN/STD). */
export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];
/** Inception-style normalisation to [-1, 1] (timm IMAGENET_INCEPTION_MEAN/STD; google/vit-*). */
export const INCEPTION_MEAN: [number, number, number] = [0.5, 0.5, 0.5];
export const INCEPTION_STD: [number, number, number] = [0.5, 0.5, 0.5];
/** OpenAI CLIP normalisation (timm OPENAI_CLIP_MEAN/STD). */
export const CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];
